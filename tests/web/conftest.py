"""The app served by uvicorn on loopback, and Debian's Chromium driven by playwright (no browser
download), for the real-browser tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.jobs.ingest import ingest_day
from app.main import create_app
from tests.factories import activate_model_dir
from tests.live import CHROMIUM, chromium, serving

SCREENSHOTS = Path(__file__).resolve().parents[1] / "_screenshots"
SERVED_DAYS = (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21))


@pytest.fixture
def served_url(settings, sessions, holder, tiny_model_dir) -> Iterator[str]:
    """The service with the tiny model active and three fixture days ingested and scored."""
    activate_model_dir(sessions, tiny_model_dir, name="tiny-browser")
    for day in SERVED_DAYS:
        ingest_day(sessions, day, settings, model=holder.get)
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium (and playwright's driver) for a module's tests: starting them took a few
    CPU seconds a test. Each test's ``new_page`` is a context of its own (cookies, storage)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    SCREENSHOTS.mkdir(exist_ok=True)
    with chromium(playwright_api) as browser:
        yield browser
