"""Signals: SIGTERM handled like Ctrl-C (a stopped run cleans up and says so), and per-file time budgets."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def terminate_as_interrupt():
    """While the block runs, SIGTERM raises KeyboardInterrupt in the main thread.

    Left alone where it cannot apply: off the main thread, or when someone else
    already handles SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class OutOfTime(BaseException):
    """A time budget ran out (a BaseException, so a rule's ``except Exception`` cannot swallow it)."""


@contextmanager
def time_budget(seconds: float | None):
    """Raise :class:`OutOfTime` in the block once ``seconds`` have passed.

    Uses a real-time interval timer, so it applies only on the main thread of a
    platform that has one (each worker process lints on its main thread); elsewhere
    the block runs unbounded.
    """
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None))
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise OutOfTime

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
