"""app.core.heap: what a served process keeps out of the garbage collector's scans."""

from __future__ import annotations

import gc
import weakref

import pytest

from app.core import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture(autouse=True)
def unfrozen():
    yield
    heap.release()


def test_settling_frees_the_garbage_then_freezes_what_lives():
    garbage, kept = Node(), Node()
    gone, alive = weakref.ref(garbage), weakref.ref(kept)
    del garbage
    heap.settle()
    assert gone() is None and alive() is not None
    frozen = gc.get_freeze_count()
    assert frozen > 0 and heap.frozen() == frozen
    # Nothing is left for a full collection to scan (get_objects lists the unfrozen only)...
    assert len(gc.get_objects()) < 1_000
    # ...and a later settle (a model loaded) freezes what came since.
    model = [Node() for _ in range(100)]
    heap.settle()
    assert gc.get_freeze_count() >= frozen + len(model)
    heap.release()
    assert gc.get_freeze_count() == heap.frozen() == 0
