"""Keep Python's cyclic garbage collector off a served process's long-lived heap.

A served process holds about 550,000 long-lived objects (torch, transformers, the loaded model,
SQLAlchemy's mappings, the routes). Handling requests makes short-lived objects, some of which
survive the young generations, and every so often the collector scans the *whole* oldest
generation with the interpreter lock held. Under 50 clients on two cores that happened about once
a second and took 140-370 ms each time (``gc.callbacks`` in the service): every request in flight
waited, which was the idle ``GET /recommendations`` p99 of 320-450 ms (issue 17, item 5;
bench/README.md, "Requests under load").

``settle`` collects what is garbage now, then freezes the rest (``gc.freeze``): frozen objects are
never scanned again, so later collections only look at what came after, and a later ``settle``
costs milliseconds. It runs once the service has started and after every model load (a model's
objects are long-lived too). A replaced model is freed by reference counting when the holder
drops it (measured: a fine-tuned and a TF-IDF predictor both are; 78 objects of the former were
left in cycles, which stay frozen); ``release`` gives everything back to the collector when the
service stops.

Only ``arxiv-reco serve`` does this: a process that creates many apps (the tests) or none (the
CLI, the job's child) keeps Python's defaults.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)

# Objects frozen by the first settle (at start). gc.get_freeze_count() walks the whole frozen
# list with the interpreter lock held (70 ms under load for 550,000 objects, measured in
# /status; more with every model frozen since), so it is counted at start only: counted after
# every model load, thirty topics retrained in a night stalled every request thirty times
# (py-spy on the served process, bench/lab.py).
_frozen = 0


def frozen() -> int:
    """How many objects the first ``settle`` (at start) kept out of the collector's scans; 0
    after ``release`` or where nothing settled."""
    return _frozen


def settle() -> None:
    global _frozen
    started = time.perf_counter()
    gc.collect()  # scans only what is not frozen yet
    gc.freeze()
    if not _frozen:
        _frozen = gc.get_freeze_count()
    logger.info(
        "long-lived objects kept out of the garbage collector's scans (%d at start; %.0f ms)",
        _frozen,
        (time.perf_counter() - started) * 1e3,
    )


def release() -> None:
    global _frozen
    gc.unfreeze()
    _frozen = 0
