"""The framework-neutral picture of a file's models: layer chains, loss sites, init sites, training.

Built once per file (lazily, by the first rule that asks) and shared by the rules.
"""

from __future__ import annotations

from actlint.picture.sites import InitSite, LossSite, Picture, TrainingCall, hidden_activations, last_op


def picture_of(ctx) -> Picture:
    from actlint.picture.flow import build_picture

    return ctx.cached("picture", lambda c: build_picture(c.index, c.project, c.path))


__all__ = ["InitSite", "LossSite", "Picture", "TrainingCall", "hidden_activations", "last_op", "picture_of"]
