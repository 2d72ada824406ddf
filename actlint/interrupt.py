"""SIGTERM handled like Ctrl-C, so a stopped run cleans up (workers, temporary files) and says so."""

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
