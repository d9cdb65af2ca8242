"""`arxiv-reco serve` as a user runs it: one real uvicorn process, every middleware and thread.

The response cache and the settled heap (app.core.heap) are what keep repeated reads fast under
load (bench/README.md, "Requests under load"); both were once lost without a test noticing, since
the tests run the app in their own process. Here the served process says, in /status, how many
lists it rendered and how many objects it keeps out of the garbage collector's scans.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from app.jobs.ingest import ingest_day
from tests.factories import activate_model_dir
from tests.processes import ROOT

# The cache watches SQLite's commit counter; on PostgreSQL the service goes uncached.
pytestmark = pytest.mark.sqlite_only

WEDNESDAY = dt.date(2025, 3, 19)
REPEATS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(settings, sessions, holder, tiny_model_dir):
    activate_model_dir(sessions, tiny_model_dir)
    assert ingest_day(sessions, WEDNESDAY, settings, model=holder.get).status == "success"
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARXIV_RECO_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        ARXIV_RECO_DATA_DIR=str(settings.data_dir),
        ARXIV_RECO_DATABASE_URL=settings.resolved_database_url,
        ARXIV_RECO_ARXIV_API_URL=settings.arxiv_api_url,
        ARXIV_RECO_SCHEDULER_ENABLED="false",
        ARXIV_RECO_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)],
        env=environment,
        cwd=settings.data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"arxiv-reco serve did not start: {server.communicate()[1][-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_served_process_renders_a_repeated_list_once_and_keeps_its_heap_settled(served):
    url = f"{served}/recommendations"
    with httpx.Client(timeout=30) as client:
        bodies = {client.get(url, params={"date": str(WEDNESDAY)}).content for _ in range(REPEATS)}
        process = client.get(f"{served}/status").json()["process"]
    assert len(bodies) == 1
    cache = process["response_cache"]
    assert cache["enabled"] is True
    assert cache["renders"] == 1, cache
    assert cache["hits"] >= REPEATS - 1, cache
    # What start-up and the model load made is out of the collector's sight: a full collection
    # would otherwise scan it, with every request waiting (about 0.3 s each, once a second).
    assert process["frozen_objects"] > 100_000, process
