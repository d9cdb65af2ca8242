"""GET /onboarding/next and POST /onboarding/answers, and the /onboarding page (no browser)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.main import create_app
from app.store.schema import DEFAULT_TOPIC_ID, Label, OnboardingSkip, Paper, RetrainRun
from tests.factories import local_client
from training.regime import MEASURED_MIN_NEGATIVES, MEASURED_MIN_POSITIVES

DAYS = (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21))
# What a page must never show: a command, an option, a traceback.
NOT_FOR_A_PAGE = re.compile(r"arxiv-reco [a-z]|(^|\s)--[a-z]|Traceback|Error:")


@pytest.fixture
def papers(sessions, settings) -> list[str]:
    """Three real days of papers (newest first, as onboarding reads them)."""
    for day in DAYS:
        ingest_day(sessions, day, settings)
    with sessions() as session:
        return list(session.scalars(select(Paper.id).order_by(Paper.submitted_on.desc(), Paper.id)))


def _label(sessions, ids: list[str]) -> None:
    """Labels spread over the days, one in three interesting: enough for a measured model."""
    with session_scope(sessions) as session:
        for n, paper_id in enumerate(ids):
            session.add(Label(paper_id=paper_id, interest=int(n % 3 == 0), source="web"))


def _plain(message: str) -> None:
    assert message.endswith(".") and not NOT_FOR_A_PAGE.search(message), message


def test_without_a_model_the_next_papers_are_the_newest_days_topics(client, papers):
    answer = client.get("/onboarding/next", params={"limit": 5})
    assert answer.status_code == 200
    body = answer.json()
    assert body["model"] is None
    assert body["progress"] == {
        "labels": 0,
        "interesting": 0,
        "more_interesting": MEASURED_MIN_POSITIVES,
        "more_not_interesting": MEASURED_MIN_NEGATIVES,
        "needed": MEASURED_MIN_POSITIVES + MEASURED_MIN_NEGATIVES,
        "measured": False,
    }
    assert len(body["papers"]) == 5
    assert {p["why"] for p in body["papers"]} == {"newest"}
    assert all(p["probability"] is None and p["id"] in papers for p in body["papers"])
    assert {"title", "abstract", "authors", "categories", "abs_url"} <= set(body["papers"][0])
    assert len(client.get("/onboarding/next").json()["papers"]) == 10


@pytest.mark.parametrize("limit", ["0", "51", "ten", "-1"])
def test_a_bad_limit_is_422(client, limit):
    answer = client.get("/onboarding/next", params={"limit": limit})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"answers": []}, ["body"]),  # a list, not an object
        ([], ["body"]),
        ([{"paper_id": "2503.13531"}], ["body", 0, "interest"]),  # null skips; absent is an error
        ([{"paper_id": "2503.13531", "interest": 2}], ["body", 0, "interest"]),
        ([{"paper_id": "2503.13531", "interest": True, "x": 1}], ["body", 0, "x"]),
        ([{"paper_id": "not an id", "interest": 1}], ["body", 0, "paper_id"]),
        ([{"paper_id": "2503.99999", "interest": 1}], ["body", 0, "paper_id"]),  # not stored
        (
            [
                {"paper_id": "2503.13531", "interest": 1},
                {"paper_id": "2503.13531v2", "interest": 0},
            ],
            ["body", 1, "paper_id"],
        ),
    ],
)
def test_bad_answers_are_422_and_store_nothing(client, sessions, papers, body, loc):
    answer = client.post("/onboarding/answers", json=body)
    assert answer.status_code == 422, answer.text
    assert loc in [problem["loc"] for problem in answer.json()["detail"]]
    with sessions() as session:
        assert session.scalars(select(Label)).all() == []
        assert session.scalars(select(OnboardingSkip)).all() == []


def test_answers_name_the_paper_that_is_not_stored_or_answered_twice(client, papers):
    missing = client.post(
        "/onboarding/answers",
        json=[{"paper_id": papers[0], "interest": 1}, {"paper_id": "2503.99999", "interest": 0}],
    )
    assert "paper 2503.99999 is not in the database" in missing.json()["detail"][0]["msg"]
    twice = client.post(
        "/onboarding/answers",
        json=[{"paper_id": papers[0], "interest": 1}, {"paper_id": papers[0], "interest": None}],
    )
    assert f"paper {papers[0]} is answered twice" in twice.json()["detail"][0]["msg"]


def test_answers_are_stored_then_a_model_is_trained_and_chooses_the_next(client, sessions, papers):
    _label(sessions, papers[10:40])
    answered = [(papers[0], 1), (papers[1], 0), (papers[2], None)]
    answer = client.post(
        "/onboarding/answers",
        json=[{"paper_id": pid, "interest": interest} for pid, interest in answered],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["labelled"], body["skipped"]) == (2, 1)
    assert body["retrain"]["status"] == "activated" and body["retrain"]["model"] is not None
    assert body["retrain"]["message"].startswith("Trained a new model on your 32 labels")
    _plain(body["retrain"]["message"])
    assert body["progress"]["labels"] == 32
    with sessions() as session:
        labels = {label.paper_id: label for label in session.scalars(select(Label))}
        assert (labels[papers[0]].interest, labels[papers[0]].source) == (1, "onboarding")
        assert labels[papers[1]].interest == 0 and papers[2] not in labels
        assert session.get(OnboardingSkip, (DEFAULT_TOPIC_ID, papers[2])) is not None
        (run,) = session.scalars(select(RetrainRun)).all()
        assert (run.trigger, run.status, run.labels) == ("onboarding", "success", 32)

    following = client.get("/onboarding/next").json()
    assert following["model"]["id"] == body["retrain"]["model"]["id"]
    assert {p["why"] for p in following["papers"]} == {"uncertain", "explore"}
    assert all(p["probability"] is not None for p in following["papers"])
    asked = {p["id"] for p in following["papers"]}
    assert not asked & {pid for pid, _ in answered} and not asked & set(papers[10:40])

    # Skips alone change no label: no retrain.
    again = client.post("/onboarding/answers", json=[{"paper_id": papers[3], "interest": None}])
    assert again.json()["retrain"]["status"] == "nothing_new"
    _plain(again.json()["retrain"]["message"])
    with sessions() as session:
        assert len(session.scalars(select(RetrainRun)).all()) == 1


def test_a_retrain_the_labels_cannot_make_says_why_in_plain_words(client, sessions, papers):
    answer = client.post("/onboarding/answers", json=[{"paper_id": papers[0], "interest": 0}])
    assert answer.status_code == 200
    retrain = answer.json()["retrain"]
    assert retrain["status"] == "not_trained" and retrain["model"] is None
    assert retrain["message"] == (
        "No model yet: mark at least one paper ✓ interesting, so that it learns what you like."
    )
    page = client.get("/onboarding")
    assert page.status_code == 200 and "1</strong> of ~" in page.text


def test_answers_are_writes_taken_from_this_machine_only(settings, sessions, papers):
    with local_client(create_app(settings), client=("192.168.1.20", 40000)) as remote:
        refused = remote.post("/onboarding/answers", json=[{"paper_id": papers[0], "interest": 1}])
        assert refused.status_code == 403
        assert remote.get("/onboarding/next").status_code == 200  # reads stay open
    with sessions() as session:
        assert session.scalars(select(Label)).all() == []


def test_the_page_shows_the_batch_the_counter_and_no_command(client, sessions, papers, monkeypatch):
    page = client.get("/onboarding")
    assert page.status_code == 200
    assert page.text.count('data-asked-id="') == 10
    needed = MEASURED_MIN_POSITIVES + MEASURED_MIN_NEGATIVES
    assert f"<strong>0</strong> of ~{needed} answers toward a measured model" in page.text
    assert f"({MEASURED_MIN_POSITIVES} more ✓ and {MEASURED_MIN_NEGATIVES} more ✕)" in page.text
    assert "No model yet" in page.text and 'data-why="newest"' in page.text
    assert not NOT_FOR_A_PAGE.search(page.text)
    # Three days hold too few papers for the service's 40 ✓ and 80 ✕: ask for fewer here.
    monkeypatch.setattr("training.regime.MEASURED_MIN_POSITIVES", 12)
    monkeypatch.setattr("training.regime.MEASURED_MIN_NEGATIVES", 24)
    enough = 36  # one in three interesting
    _label(sessions, papers[:enough])
    page = client.get("/onboarding")
    assert f"<strong>{enough}</strong> answers: enough for a measured model" in page.text


def test_the_page_says_when_nothing_is_left_to_ask(client, sessions):
    page = client.get("/onboarding")
    assert page.status_code == 200 and 'id="nothing-left"' in page.text
    assert "No papers are stored yet" in page.text


def test_the_day_page_leads_to_the_onboarding_search_and_categories(client, papers):
    page = client.get("/").text
    getting_started = page[page.index("Getting started") :]
    assert 'href="/onboarding" id="start-onboarding"' in getting_started
    assert 'href="/search"' in getting_started
    assert 'href="/settings/categories"' in page
