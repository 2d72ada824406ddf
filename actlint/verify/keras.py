"""``actlint.verify.keras.Verify()``: a Keras callback that verifies the model ``fit`` trains.

    model.fit(x, y, callbacks=[actlint.verify.keras.Verify()])

At the first training step it measures the model on the batch ``fit`` hands to ``train_step``
with the compiled loss, runs the experiments of the static findings of the model's files, and
after ``steps`` steps looks again; then it prints the text output (``print_report``) and keeps the
report as ``.report``.  ``fit`` itself trains on unchanged.  Import it before building the model
so that the places where layers are built are known.
"""

from __future__ import annotations

import sys

from actlint.verify.trace import api

api.prepare()

import keras  # noqa: E402 - after prepare(): the layers built from now on record where

from actlint.verify.trace.state import STATE  # noqa: E402


class Verify(keras.callbacks.Callback):
    def __init__(self, steps: int = 3, print_report: bool = True) -> None:
        super().__init__()
        self.steps, self.print_report = steps, print_report
        self.report = None
        self._caller = api._caller_file()
        self._record = None
        self._batch = None
        self._seen = 0
        self._losses: list = []

    def on_train_begin(self, logs=None):
        model = self.model
        self._findings, self._files = api._begin(model, self.steps, self._caller)
        original = model.train_step

        def train_step(data):
            if self._record is None and not STATE["measuring"]:
                self._capture(data)
            return original(data)

        object.__setattr__(model, "train_step", train_step)

    def _capture(self, data):
        from actlint.verify.measure.recorder import named_params
        from actlint.verify.trace import keras_capture

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        STATE["measuring"] = True
        try:
            self._record = keras_capture.measure_keras(
                self.model, x, y, None, None, True, source="api", extra_files=self._files,
                why="the first batch fit gave train_step", take_steps=False)
        except Exception as exc:  # noqa: BLE001 - the user's training goes on; the report says why
            self._record = {"ok": False, "reason": f"{type(exc).__name__} while measuring: {exc}", "files": [],
                            "label": type(self.model).__name__}
        finally:
            STATE["measuring"] = False
            for _, p in named_params(self.model):
                p.grad = None
        self._batch = x

    def on_train_batch_end(self, batch, logs=None):
        self._seen += 1
        if logs and "loss" in logs:
            self._losses.append(float(logs["loss"]))
        if self._seen == self.steps and self.report is None:
            self._finish()

    def on_train_end(self, logs=None):
        if self.report is None:
            self._finish()

    def _finish(self):
        from actlint.verify.measure.record import after_steps_record
        from actlint.verify.measure.recorder import Run, named_params

        record = self._record
        if record is not None and record.get("ok") and self._batch is not None:
            STATE["measuring"] = True
            try:
                xt = keras.ops.convert_to_tensor(self._batch)
                run = Run(self.model, xt, "keras")
                run.forward()
                record["after_training"] = after_steps_record(run, list(self._losses))
            except Exception:  # noqa: BLE001 - the second look is optional
                pass
            finally:
                STATE["measuring"] = False
                for _, p in named_params(self.model):
                    p.grad = None
        records = [record] if record is not None else []
        self.report = api._judge(self._findings, records, "fit took no training step", self._files)
        self.model.__dict__.pop("train_step", None)
        if self.print_report:
            sys.stderr.write(self.report.text())


__all__ = ["Verify"]
