"""Background work yields the CPU to the API.

On Linux a thread's niceness is its own, and the threads it starts inherit it, torch's OpenMP
workers included (each calling thread gets its own OpenMP pool). So a scoring thread that lowers
its own priority leaves the request threads in front when a day is scored on a two-core laptop;
when nothing else wants the CPU it still gets all of it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

logger = logging.getLogger(__name__)


def lower_thread_priority(nice: int) -> bool:
    """Raise this thread's niceness to ``nice`` (never lowers it); True if it is now that nice."""
    if nice <= 0:
        return False
    if not sys.platform.startswith("linux"):
        logger.debug("thread priorities are per process on %s; left as is", sys.platform)
        return False
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as err:
        logger.warning("cannot lower the priority of thread %d to nice %d: %s", tid, nice, err)
        return False
    return True
