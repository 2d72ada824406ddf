"""A script that asks for CUDA on a machine without it runs on the CPU instead (CI, a laptop).

Many training scripts hard-code ``.cuda()``, ``.to("cuda")`` or ``device="cuda"``; on a machine
without a GPU they stop before the first step, for the user as for actlint.  Under the tracer,
where ``torch.cuda.is_available()`` is False and no device was asked for, those requests are
answered with the CPU: the model, its batch and its loss stay the user's, only the device
differs, and the run's assumptions say so.  Lightning's ``accelerator="gpu"`` likewise.
"""

from __future__ import annotations

import functools

NOTE = "run on the CPU: the script asks for CUDA ({what}), which this machine does not have"
FACTORIES = ("tensor", "as_tensor", "zeros", "ones", "empty", "full", "rand", "randn", "randint", "randperm",
             "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like", "empty_like", "full_like",
             "rand_like", "randn_like", "randint_like", "from_numpy")
_SEEN: list[str] = []


def _said(what: str, assumptions: list[str]) -> None:
    if what not in _SEEN:
        _SEEN.append(what)
        for i, a in enumerate(assumptions):
            if a.startswith("run on the CPU: the script asks for CUDA"):
                assumptions[i] = NOTE.format(what=", ".join(_SEEN))
                return
        assumptions.append(NOTE.format(what=what))


def _is_cuda(value) -> bool:
    if isinstance(value, str):
        return value.split(":", 1)[0].strip() == "cuda"
    return getattr(value, "type", None) == "cuda" and type(value).__name__ == "device"


def install(torch, assumptions: list[str]) -> bool:
    """Answer CUDA requests with the CPU where this machine has no CUDA; whether it did."""
    if torch.cuda.is_available():
        return False

    def cpu_args(args, kwargs, what):
        if any(_is_cuda(a) for a in args) or _is_cuda(kwargs.get("device")):
            _said(what, assumptions)
            args = tuple("cpu" if _is_cuda(a) else a for a in args)
            if _is_cuda(kwargs.get("device")):
                kwargs = dict(kwargs, device="cpu")
        return args, kwargs

    def on_cpu(self, *args, **kwargs):  # Tensor.cuda / Module.cuda
        _said(".cuda()", assumptions)
        return self

    def wrap_to(original):
        @functools.wraps(original)
        def to(self, *args, **kwargs):
            args, kwargs = cpu_args(args, kwargs, '.to("cuda")')
            return original(self, *args, **kwargs)
        return to

    def wrap_factory(original, name):
        @functools.wraps(original)
        def factory(*args, **kwargs):
            if _is_cuda(kwargs.get("device")):
                _said(f'torch.{name}(device="cuda")', assumptions)
                kwargs = dict(kwargs, device="cpu")
            return original(*args, **kwargs)
        return factory

    torch.Tensor.cuda = on_cpu
    torch.nn.Module.cuda = on_cpu
    torch.Tensor.to = wrap_to(torch.Tensor.to)
    torch.nn.Module.to = wrap_to(torch.nn.Module.to)
    for name in FACTORIES:
        original = getattr(torch, name, None)
        if original is not None and name != "from_numpy":
            setattr(torch, name, wrap_factory(original, name))
    load = torch.load

    @functools.wraps(load)
    def cpu_load(*args, **kwargs):  # a checkpoint saved on a GPU: its tensors come back on the CPU
        if "map_location" not in kwargs and len(args) < 2:
            kwargs["map_location"] = "cpu"
        return load(*args, **kwargs)

    torch.load = cpu_load
    return True


def lightning_kwargs(kwargs: dict, cuda: bool, assumptions: list[str]) -> dict:
    """A Trainer asked for GPUs on a machine without CUDA: the CPU, one device."""
    if cuda:
        return kwargs
    accel = kwargs.get("accelerator")
    asks = (isinstance(accel, str) and accel.lower() in ("gpu", "cuda")) or kwargs.get("gpus") not in (None, 0)
    if not asks:
        return kwargs
    _said(f'Trainer(accelerator={accel!r})' if accel else "Trainer(gpus=...)", assumptions)
    out = {k: v for k, v in kwargs.items() if k not in ("gpus",)}
    out["accelerator"] = "cpu"
    if "devices" in out:
        out["devices"] = 1
    if str(out.get("strategy", "")).startswith("ddp"):  # a multi-GPU strategy has no meaning on one CPU
        out.pop("strategy")
    return out
