from __future__ import annotations

import datetime as dt

import pytest

from app.jobs.ingest import ingest_day

WEDNESDAY = dt.date(2025, 3, 19)


@pytest.fixture
def day_ids(sessions, settings, standin):
    """The ids of one real day's papers, ingested through the stand-in."""
    ingest_day(sessions, WEDNESDAY, settings)
    return sorted(e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories))
