from __future__ import annotations

import os
import sys
import threading

import pytest

from app.core.priority import lower_thread_priority

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's"
)


def test_a_background_thread_and_the_threads_it_starts_run_nicer_than_the_rest():
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def background() -> None:
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert lower_thread_priority(base + 5)
        seen["background"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        worker = threading.Thread(target=child)
        worker.start()
        worker.join()

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if base + 5 > 19:
        pytest.skip(f"this process already runs at nice {base}")
    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen == {"background": base + 5, "child": base + 5}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base


def test_zero_leaves_the_priority_alone():
    assert lower_thread_priority(0) is False
