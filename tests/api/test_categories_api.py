"""GET|PUT /categories: the followed categories, and the backfill of the added ones' recent days
under the job's one-at-a-time lock; the /settings/categories page (no browser)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select

from app.jobs.ingest import ingest_day
from app.store.schema import FollowedCategory, IngestRun, Paper
from tests.processes import job_lock_held_elsewhere

DAYS = (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21))


def _backfill_done(client) -> dict:
    deadline = time.monotonic() + 60
    while True:
        body = client.get("/categories").json()
        if body["backfill"]["state"] != "running":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_the_environment_is_followed_until_a_list_is_saved(client):
    body = client.get("/categories").json()
    assert body == {
        "categories": ["cs.AI", "cs.CL", "cs.LG"],
        "source": "environment",
        "environment": ["cs.AI", "cs.CL", "cs.LG"],
        "added": [],
        "removed": [],
        "backfill": None,
    }
    assert client.get("/status").json()["categories"] == ["cs.AI", "cs.CL", "cs.LG"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"categories": ["cs.lg", "cs.CV", "hep-thx"]}, ["'cs.lg'", "cs.LG?", "'hep-thx'"]),
        ({"categories": []}, ["at least one"]),
        ({"categories": ["  "]}, ["at least one"]),
        ({"categories": "cs.LG"}, ["list"]),
        ({"categories": ["cs.LG"], "extra": 1}, ["Extra inputs"]),
        (["cs.LG"], ["object"]),
    ],
)
def test_unknown_categories_are_422_naming_each_and_nothing_changes(client, sessions, body, words):
    answer = client.put("/categories", json=body)
    assert answer.status_code == 422, answer.text
    text = str(answer.json()["detail"])
    assert all(word in text for word in words), text
    with sessions() as session:
        assert session.scalars(select(FollowedCategory)).all() == []


def test_an_added_category_gets_its_recent_days_and_a_removed_one_stops(
    client, sessions, settings, standin
):
    for day in DAYS:
        ingest_day(sessions, day, settings)
    answer = client.put("/categories", json={"categories": ["cs.CL", "cs.CV", "cs.LG", "cs.AI"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["categories"], body["source"]) == (
        ["cs.AI", "cs.CL", "cs.CV", "cs.LG"],
        "database",
    )
    assert (body["added"], body["removed"]) == (["cs.CV"], [])
    backfill = body["backfill"]
    assert (backfill["first"], backfill["last"], backfill["days"]) == (
        "2025-03-15",
        "2025-03-21",
        7,
    )
    assert backfill["categories"] == ["cs.CV"]

    done = _backfill_done(client)["backfill"]
    vision = {e.id for day in DAYS for e in standin.catalog.on_day(day, ["cs.CV"])}
    followed = {e.id for day in DAYS for e in standin.catalog.on_day(day, settings.categories)}
    assert done["state"] == "done" and done["days_done"] == 7
    assert done["new_papers"] == len(vision - followed) > 0
    assert done["message"] == (
        f"Fetched cs.CV for 2025-03-15 to 2025-03-21: {done['new_papers']} new papers."
    )
    with sessions() as session:
        assert set(session.scalars(select(Paper.id))) == vision | followed
        runs = session.scalars(select(IngestRun).where(IngestRun.trigger == "categories")).all()
        assert len(runs) == 7 and all(run.status == "success" for run in runs)
    # The daily job and health go on with the whole list; the backfill's runs judge no day.
    assert client.get("/health").json()["problems"] == [
        "no model is active: papers are stored but not scored"
    ]

    removed = client.put("/categories", json={"categories": ["cs.CL"]}).json()
    assert (removed["added"], removed["removed"]) == ([], ["cs.AI", "cs.CV", "cs.LG"])
    assert removed["backfill"] is None  # the fetch of a category no longer followed
    assert ingest_day(sessions, DAYS[0], settings).fetched == 1  # cs.CL alone
    with sessions() as session:  # the papers stay
        assert len(session.scalars(select(Paper.id)).all()) == len(vision | followed)


def test_adding_while_an_ingestion_runs_is_409_and_changes_nothing(client, sessions, settings):
    with job_lock_held_elsewhere(settings, sessions):  # a CLI backfill, another host's worker
        busy = client.put("/categories", json={"categories": ["cs.CV"]})
        assert busy.status_code == 409
        assert "an ingestion is running" in busy.json()["detail"]
        # Removing needs no fetch: it is taken while the job runs.
        taken = client.put("/categories", json={"categories": ["cs.CL", "cs.LG"]})
        assert taken.status_code == 200 and taken.json()["backfill"] is None
    with sessions() as session:
        assert session.scalars(select(FollowedCategory.category)).all() == ["cs.CL", "cs.LG"]
    assert client.put("/categories", json={"categories": ["cs.CV"]}).status_code == 200
    assert _backfill_done(client)["backfill"]["state"] == "done"


def test_the_page_lists_the_taxonomy_by_archive_with_the_followed_ticked(client):
    page = client.get("/settings/categories")
    assert page.status_code == 200
    text = page.text
    assert "<legend>Computer Science <code>cs</code></legend>" in text
    assert 'value="cs.LG" checked' in text and 'value="cs.CV" >' in text
    assert "Machine Learning" in text and "High Energy Physics - Theory" in text
    assert "the service's default list, until you save your own" in text
    assert 'id="category-filter"' in text
