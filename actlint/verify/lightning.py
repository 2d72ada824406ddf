"""``actlint.verify.lightning.Verify()``: a Lightning callback that verifies the module a ``Trainer`` fits.

    trainer = Trainer(callbacks=[actlint.verify.lightning.Verify()])

Lightning steps torch optimizers, so the module is captured as ``actlint run`` captures it: at its first
optimizer step, with the batch its ``training_step`` called it on and the loss computed from its output.
After ``steps`` steps the report is printed (``print_report``) and kept as ``.report``; training goes on.
"""

from __future__ import annotations

from actlint.verify.trace import api

api.prepare()

try:  # noqa: E402
    import lightning.pytorch as pl
except ImportError:  # the older package name
    import pytorch_lightning as pl


class Verify(pl.Callback):
    def __init__(self, steps: int = 3, print_report: bool = True) -> None:
        super().__init__()
        self.steps, self.print_report = steps, print_report
        self.report = None
        self._watch = None

    def on_train_start(self, trainer, pl_module):
        self._watch = api.watch(pl_module, steps=self.steps, print_report=self.print_report)
        self._watch._caller = self._watch._caller or api._caller_file()
        self._watch.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._watch is not None and self._watch.report is not None:
            self._close()

    def on_train_end(self, trainer, pl_module):
        if self._watch is not None:
            self._close()

    def _close(self):
        self._watch.__exit__(None, None, None)
        self.report = self._watch.report
        self._watch = None


__all__ = ["Verify"]
