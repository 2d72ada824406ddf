"""Keras 2's ``keras.wrappers.scikit_learn`` (``KerasClassifier(build_fn=…, epochs=…)``) on Keras 3.

Keras 3 removed the module (its ``keras.wrappers.SKLearnClassifier`` takes other arguments), yet
tutorial code of the Keras 2 years trains through it: ``cross_val_score(KerasClassifier(build_fn=
baseline_model, epochs=200, batch_size=5), X, y, cv=kfold)``.  These classes do what Keras 2's did:
``fit`` builds a fresh model with ``build_fn`` (given the parameters it names) and calls its
``fit`` with the parameters ``fit`` takes; labels are mapped to class indices (one-hot for a
categorical cross-entropy); ``get_params``/``set_params`` let scikit-learn clone them.
"""

from __future__ import annotations

import inspect
import sys
import types

ASSUMPTION = "Keras 2 keras.wrappers.scikit_learn (KerasClassifier, KerasRegressor) read as Keras 2 ran it: " \
             "fit builds the model with build_fn and calls its fit"


def _bases(kind: str) -> tuple:
    try:
        from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    except ImportError:
        return (object,)
    return (ClassifierMixin if kind == "classifier" else RegressorMixin, BaseEstimator)


class _Wrapper:
    """What the classifier and the regressor share: parameters, the build, the fit."""

    def __init__(self, build_fn=None, **sk_params):
        self.build_fn = build_fn
        self.sk_params = sk_params

    def get_params(self, deep=True):
        return {**self.sk_params, "build_fn": self.build_fn}

    def set_params(self, **params):
        if "build_fn" in params:
            self.build_fn = params.pop("build_fn")
        self.sk_params.update(params)
        return self

    def _filtered(self, fn, extra: dict | None = None) -> dict:
        try:
            names = set(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            names = set()
        params = dict(self.sk_params)
        if "nb_epoch" in params and "epochs" not in params:
            params["epochs"] = params.pop("nb_epoch")
        chosen = {k: v for k, v in params.items() if k in names}
        chosen.update(extra or {})
        return chosen

    def _build(self):
        fn = self.build_fn
        if fn is None:
            fn = self.__call__
        elif not inspect.isfunction(fn) and not inspect.ismethod(fn) and hasattr(fn, "__call__"):
            fn = fn.__call__
        return fn(**self._filtered(fn))

    def fit(self, x, y, **kwargs):
        import keras

        _note()
        self.model = self._build()
        y = self._targets(y, fit=True)
        self.history_ = self.model.fit(x, y, **self._filtered(keras.Model.fit, kwargs))
        return self.history_

    def _categorical(self) -> bool:
        loss = getattr(self.model, "loss", None)
        name = loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)
        return str(name).lower().replace("_", "") in ("categoricalcrossentropy",)

    def _targets(self, y, fit: bool):
        return y


class _Classifier(_Wrapper):
    _estimator_type = "classifier"

    def _targets(self, y, fit: bool):
        import numpy as np

        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            if fit:
                self.classes_ = np.arange(y.shape[1])
            return y
        if fit:
            self.classes_ = np.unique(y)
            self.n_classes_ = len(self.classes_)
        y = np.searchsorted(self.classes_, y.reshape(-1))
        if self._categorical():
            import keras
            y = keras.utils.to_categorical(y, len(self.classes_))
        return y

    def predict_proba(self, x, **kwargs):
        import numpy as np

        probs = np.asarray(self.model.predict(x, **self._predict_args(kwargs)))
        return np.hstack([1 - probs, probs]) if probs.ndim == 2 and probs.shape[1] == 1 else probs

    def predict(self, x, **kwargs):
        import numpy as np

        probs = np.asarray(self.model.predict(x, **self._predict_args(kwargs)))
        index = probs.argmax(axis=-1) if probs.ndim == 2 and probs.shape[-1] > 1 else \
            (probs.reshape(-1) > 0.5).astype("int32")
        return self.classes_[index]

    def score(self, x, y, **kwargs):
        outputs = self.model.evaluate(x, self._targets(y, fit=False), return_dict=True,
                                      **self._evaluate_args(kwargs))
        for name, value in outputs.items():
            if name in ("accuracy", "acc") or name.endswith("accuracy"):
                return value
        raise ValueError("The model is not configured to compute accuracy. You should pass "
                         "`metrics=[\"accuracy\"]` to the `model.compile()` method.")

    def _predict_args(self, extra):
        import keras
        return self._filtered(keras.Model.predict, extra)

    def _evaluate_args(self, extra):
        import keras
        return self._filtered(keras.Model.evaluate, extra)


class _Regressor(_Wrapper):
    _estimator_type = "regressor"

    def predict(self, x, **kwargs):
        import keras
        import numpy as np

        return np.squeeze(np.asarray(self.model.predict(x, **self._filtered(keras.Model.predict, kwargs))))

    def score(self, x, y, **kwargs):
        import keras

        loss = self.model.evaluate(x, y, **self._filtered(keras.Model.evaluate, kwargs))
        return -loss[0] if isinstance(loss, list) else -loss


_SAID: dict = {"assumptions": None}


def _note() -> None:
    said = _SAID["assumptions"]
    if said is not None and ASSUMPTION not in said:
        said.append(ASSUMPTION)


def install(keras, assumptions: list[str]) -> None:
    """Put ``keras.wrappers.scikit_learn`` in place where this Keras has none."""
    name = "keras.wrappers.scikit_learn"
    if name in sys.modules:
        return
    try:
        import importlib.util

        if importlib.util.find_spec(name) is not None:
            return
    except (ImportError, ValueError):
        pass
    _SAID["assumptions"] = assumptions
    module = types.ModuleType(name, "actlint: Keras 2's scikit-learn wrappers")
    module.KerasClassifier = type("KerasClassifier", (_Classifier, *_bases("classifier")),
                                  {"__module__": name, "__init__": _Wrapper.__init__})
    module.KerasRegressor = type("KerasRegressor", (_Regressor, *_bases("regressor")),
                                 {"__module__": name, "__init__": _Wrapper.__init__})
    module.BaseWrapper = _Wrapper
    sys.modules[name] = module
    wrappers = getattr(keras, "wrappers", None)
    if wrappers is not None:
        setattr(wrappers, "scikit_learn", module)
