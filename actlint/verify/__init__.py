"""The runtime verifier: every finding judged from numbers measured on the model.

Three ways in, one judge:

- ``build/``: a model from its definitions (``actlint --verify``): which models and which
  arguments (:mod:`.build.targets`), the restricted source (:mod:`.build.builder`), the
  guarded loader and synthetic inputs, run in :mod:`.build.child`.
- ``trace/``: a model from the user's own run (``actlint run -- COMMAND``, and the Python
  API ``check``/``watch`` with its Keras and Lightning callbacks): the tracer, the stand-ins
  for datasets that cannot be downloaded.
- ``measure/``: what every layer did (:mod:`.measure.recorder`) and the per-rule
  experiments (:mod:`.measure.experiments`), the same whichever way the model was built.
- ``judge/``: numbers to verdicts (:mod:`.judge.verdicts`), runtime diagnostics, the report.
- ``sandbox/``: the child process (time limit, process group, the audit hook).

Nothing here imports a framework at import time; the parent side never does.
"""

_API = ("check", "watch", "Report")


def __getattr__(name):
    """``actlint.verify.check`` / ``watch`` / ``Report``: the Python API, loaded on first use (no framework
    import here); from then on the places where layers are built are recorded (import it before building)."""
    if name in _API:
        from actlint.verify.trace import api

        api.prepare()
        return getattr(api, name)
    raise AttributeError(f"module 'actlint.verify' has no attribute {name!r}")
