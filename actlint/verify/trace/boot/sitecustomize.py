"""Loaded by every Python that ``actlint run`` starts (this folder leads PYTHONPATH): the tracer, then the
``sitecustomize`` this one hides, if any.  Only when ACTLINT_TRACE names a spec; never fails the user's
interpreter (an error is written into the run's result and the command goes on untraced)."""

import os
import sys


def _load_tracer():
    spec = os.environ.get("ACTLINT_TRACE")
    if not spec:
        return
    try:
        from actlint.verify.trace import tracer

        tracer.start(spec)
    except Exception as exc:  # noqa: BLE001 - the user's command must still run
        try:
            from actlint.verify.trace import tracer

            tracer.failed_to_start(spec, exc)
        except Exception:  # noqa: BLE001
            sys.stderr.write(f"actlint run: the tracer could not start: {type(exc).__name__}: {exc}\n")


def _chain():
    """Import the next ``sitecustomize`` on sys.path (a virtualenv's or a distribution's), as Python would have."""
    here = os.path.dirname(os.path.abspath(__file__))
    me = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import sitecustomize  # noqa: F401 - the hidden one, if there is one
    except ImportError:
        if me is not None:
            sys.modules["sitecustomize"] = me
    except Exception as exc:  # noqa: BLE001 - as Python itself does: report and go on
        sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}\n")
    finally:
        sys.path[:] = saved


_load_tracer()
_chain()
