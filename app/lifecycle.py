"""Processes that must not outlive their parent: ``dsct serve``'s workers and their solver
processes.

On Linux the kernel sends the child SIGKILL when its parent thread exits
(``prctl(PR_SET_PDEATHSIG)``), whatever killed the parent, ``kill -9`` included. Elsewhere a
daemon thread polls the parent's pid every :data:`POLL` seconds and exits the process when it
changes. Either way an orphaned worker stops serving within a second, so it can never keep
answering on a port with an old configuration (old API keys, say) beside a new server.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
#: seconds between checks of the parent's pid where prctl is not available
POLL = 0.25


def die_with_parent(parent: int) -> None:
    """Make this process exit when its parent, pid ``parent``, dies (call first thing in the
    child; the parent passes its own pid, so that a parent that died while the child was
    starting is noticed too)."""
    if os.getppid() != parent:
        os._exit(1)
    if sys.platform.startswith("linux") and _prctl_pdeathsig(signal.SIGKILL):
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent,), name="dsct-parent-watch", daemon=True).start()


def _prctl_pdeathsig(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL)
    os._exit(1)
