"""The app served by uvicorn on loopback, and Debian's Chromium driven by playwright (no browser
download), for the real-browser tests."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.ingest.service import ingest_day
from app.main import create_app
from tests.factories import activate_model_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "_screenshots"
SERVED_DAYS = (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served_url(settings, sessions, holder, tiny_model_dir) -> Iterator[str]:
    """The service with the tiny model active and three fixture days ingested and scored."""
    activate_model_dir(sessions, tiny_model_dir, name="tiny-browser")
    for day in SERVED_DAYS:
        ingest_day(sessions, day, settings, model=holder.get)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    SCREENSHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()
