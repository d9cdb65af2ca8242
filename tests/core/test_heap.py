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


def _unfrozen(*objects: object) -> int:
    """How many of ``objects`` the collector still scans."""
    wanted = {id(o) for o in objects}
    return sum(id(o) in wanted for o in gc.get_objects())


def test_settling_frees_the_garbage_then_freezes_what_lives():
    garbage, kept = Node(), Node()
    gone, alive = weakref.ref(garbage), weakref.ref(kept)
    del garbage
    heap.settle()
    assert gone() is None and alive() is not None
    frozen = gc.get_freeze_count()
    assert frozen > 0 and heap.frozen() == frozen
    # What lives is out of a full collection's sight (get_objects lists the unfrozen only)...
    assert not _unfrozen(kept)
    # ...and a later settle (a model loaded) freezes what came since. (Counts would race: a
    # frozen object freed by reference counting leaves the frozen set.)
    model = [Node() for _ in range(100)]
    assert _unfrozen(*model) == len(model)
    heap.settle()
    assert not _unfrozen(*model)
    heap.release()
    assert _unfrozen(kept, *model) == len(model) + 1
    assert gc.get_freeze_count() == heap.frozen() == 0
