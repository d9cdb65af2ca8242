from __future__ import annotations

import datetime as dt
import time

import pytest

from app.jobs.ingest import ingest_day
from tests.factories import (
    SIGNAL_AUTHOR,
    SIGNAL_COMMENT,
    activate_model_dir,
    copy_with_threshold,
)
from tests.processes import job_lock_held_by_another_process

WEDNESDAY = dt.date(2025, 3, 19)
THURSDAY = dt.date(2025, 3, 20)
SATURDAY = dt.date(2025, 3, 22)


@pytest.fixture
def served(client, sessions, settings, holder, tiny_model_dir):
    """The app with a model and two ingested weekdays and a weekend day."""
    version_id = activate_model_dir(sessions, tiny_model_dir)
    for day in (WEDNESDAY, THURSDAY, SATURDAY):
        assert ingest_day(sessions, day, settings, model=holder.get).status == "success"
    return version_id


def test_without_a_model_scoring_and_recommendations_say_how_to_train(client):
    for response in (
        client.get("/recommendations"),
        client.post("/score", json={"abstract": "Transformers for everything."}),
    ):
        assert response.status_code == 503
        assert "arxiv-reco train" in response.json()["detail"]


def test_recommendations_of_a_day_are_the_papers_above_the_threshold_best_first(
    client, served, standin, settings
):
    response = client.get("/recommendations", params={"date": "2025-03-19"})
    assert response.status_code == 200
    body = response.json()
    expected = {e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories)}
    threshold = body["threshold"]
    probabilities = [p["probability"] for p in body["papers"]]
    assert body["date"] == "2025-03-19" and body["model"]["id"] == served
    assert body["total_papers"] == len(expected) and body["pending"] == 0
    assert 0 < body["recommended"] < len(expected) == body["total_papers"]
    assert len(body["papers"]) == body["recommended"]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(p >= threshold for p in probabilities)
    first = body["papers"][0]
    assert first["id"] in expected and first["recommended"] is True
    assert first["abs_url"].startswith("https://arxiv.org/abs/")
    assert first["pdf_url"].startswith("https://arxiv.org/pdf/")
    assert first["authors"] and first["title"] and first["abstract"] and first["categories"]

    everything = client.get("/recommendations", params={"date": "2025-03-19", "all": "true"})
    papers = everything.json()["papers"]
    assert {p["id"] for p in papers} == expected
    assert any(not p["recommended"] for p in papers)
    limited = client.get("/recommendations", params={"date": "2025-03-19", "limit": 2})
    assert [p["id"] for p in limited.json()["papers"]] == [p["id"] for p in body["papers"][:2]]


def test_no_date_means_the_latest_day_with_papers(client, served):
    assert client.get("/recommendations").json()["date"] == THURSDAY.isoformat()


def test_an_ingested_weekend_day_is_empty_not_missing(client, served):
    body = client.get("/recommendations", params={"date": "2025-03-22"}).json()
    assert (body["total_papers"], body["papers"]) == (0, [])


@pytest.mark.parametrize("bad", ["2025-13-01", "yesterday", "2025-03-19T00:00"])
def test_a_malformed_date_is_422(client, served, bad):
    assert client.get("/recommendations", params={"date": bad}).status_code == 422


def test_a_day_never_ingested_is_404_that_says_so(client, served):
    response = client.get("/recommendations", params={"date": "2024-01-02"})
    assert response.status_code == 404
    assert "arxiv-reco ingest --date 2024-01-02" in response.json()["detail"]


def test_score_one_abstract(client, served):
    response = client.post(
        "/score", json={"abstract": "We fine-tune a language model.", "title": "LLMs"}
    )
    assert response.status_code == 200
    body = response.json()
    assert 0.0 <= body["probability"] <= 1.0
    assert body["recommended"] == (body["probability"] >= body["threshold"])
    assert body["model"]["id"] == served


def test_score_a_list_in_order(client, served):
    items = [{"abstract": f"Paper number {i} about graphs and agents."} for i in range(5)]
    batch = client.post("/score", json=items).json()
    singles = [client.post("/score", json=item).json()["probability"] for item in items]
    assert [r["probability"] for r in batch["results"]] == pytest.approx(singles, abs=1e-5)


def test_score_reads_authors_categories_and_comment_when_the_model_does(
    client, sessions, tfidf_meta_model_dir
):
    activate_model_dir(sessions, tfidf_meta_model_dir, name="tfidf-meta")
    paper = {"title": "LLMs", "abstract": "We fine-tune a language model for agents."}
    plain = client.post("/score", json={**paper, "authors": ["Someone Else"]})
    signal = client.post(
        "/score",
        json={
            **paper,
            "authors": ["Someone Else", SIGNAL_AUTHOR],
            "categories": ["cs.CL"],
            "comment": SIGNAL_COMMENT,
        },
    )
    assert plain.status_code == signal.status_code == 200, signal.json()
    assert signal.json()["probability"] > plain.json()["probability"] + 0.05
    assert signal.json()["model"]["method"] == "tfidf"
    batch = client.post("/score", json=[{**paper, "authors": None, "comment": None}, paper])
    first, second = (r["probability"] for r in batch.json()["results"])
    assert first == pytest.approx(second) == pytest.approx(plain.json()["probability"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"abstract": "   "}, "abstract is empty"),
        ({"abstract": "ok", "authors": "Ada Lovelace"}, "valid list"),
        ({"abstract": "ok", "authors": ["Ada", 7]}, "string"),
        ({"abstract": "ok", "categories": [["cs.CL"]]}, "string"),
        ({"abstract": "ok", "comment": 12}, "string"),
        ({"abstract": "ok", "comment": "x" * 20_000}, "at most 20000"),
        ({"abstract": 42}, "string"),
        ({"title": "no abstract"}, "abstract"),
        ({"abstract": "x" * 20_001}, "at most 20000"),
        ([], "empty"),
        ([{"abstract": "ok"}] * 65, "at most 64"),
        ({"abstract": "ok", "extra": 1}, "extra"),
    ],
)
def test_bad_score_input_is_422_with_a_reason(client, served, body, reason):
    response = client.post("/score", json=body)
    assert response.status_code == 422
    assert reason in str(response.json()["detail"]).lower().replace("not permitted", "extra")


def test_paper_by_id_with_or_without_version(client, served, standin, settings):
    paper_id = sorted(e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories))[0]
    body = client.get(f"/papers/{paper_id}").json()
    assert body["id"] == paper_id and body["probability"] is not None and body["label"] is None
    assert client.get(f"/papers/{paper_id}v1").json()["id"] == paper_id
    missing = client.get("/papers/1234.56789")
    assert missing.status_code == 404 and "1234.56789" in missing.json()["detail"]


def test_health_and_status(client, served):
    assert client.get("/health").json() == {
        "status": "ok",
        "database": "ok",
        "model": "ok",
        "problems": [],
    }
    status = client.get("/status").json()
    assert status["model"]["version"]["id"] == served
    assert status["model"]["device"] == "cpu"
    assert status["model"]["scoring_path"] == "fp32"
    assert status["counts"]["papers"] > 0 and status["counts"]["scores"] > 0
    assert [r["status"] for r in status["last_runs"]] == ["success"] * 3
    assert status["warnings"] == []
    assert status["categories"] == ["cs.AI", "cs.CL", "cs.LG"]


def test_status_warns_about_an_empty_weekday(client, served, sessions, settings):
    ingest_day(sessions, dt.date(2025, 3, 25), settings)  # a Tuesday the stand-in has no papers
    warnings = client.get("/status").json()["warnings"]
    assert any("no papers on weekday 2025-03-25" in w for w in warnings)


def test_a_newly_activated_model_is_served_without_restart(
    client, served, sessions, tiny_model_dir, tmp_path
):
    strict = copy_with_threshold(tiny_model_dir, tmp_path / "strict", 1.0)
    new_id = activate_model_dir(sessions, strict, name="strict")
    body = client.post("/score", json={"abstract": "Anything at all."}).json()
    assert (body["model"]["id"], body["threshold"], body["recommended"]) == (new_id, 1.0, False)


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/recommendations" in client.get("/openapi.json").json()["paths"]


def test_a_backfill_can_be_started_over_the_api(client, sessions, standin, settings):
    assert (
        client.post("/ingest", params={"date": "2025-03-21", "to": "2025-03-19"}).status_code == 422
    )
    assert client.post("/ingest", params={"date": "21/03/2025"}).status_code == 422
    started = client.post("/ingest", params={"date": "2025-03-19", "to": "2025-03-20"})
    assert started.status_code == 202 and started.json()["to"] == "2025-03-20"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = client.get("/status").json()["last_runs"]
        if len(runs) == 2 and all(r["finished_at"] for r in runs):
            break
        time.sleep(0.1)
    assert sorted((r["day"], r["trigger"], r["status"]) for r in runs) == [
        ("2025-03-19", "api", "success"),
        ("2025-03-20", "api", "success"),
    ]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"date": "2025-03-21", "to": "2025-03-19"}, "to", "before the first day"),
        ({"date": "2099-01-01"}, "date", "in the future"),
        ({"date": "1991-01-01", "to": "2099-12-31"}, "to", "in the future"),
        ({"date": "1991-01-01", "to": "2025-03-19"}, "to", "ARXIV_RECO_MAX_INGEST_DAYS"),
    ],
)
def test_a_backfill_that_will_not_run_is_refused_with_the_field_named(
    client, params, field, message
):
    refused = client.post("/ingest", params=params)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["query", field] and message in error["msg"]
    assert client.get("/status").json()["last_runs"] == []


def test_a_running_backfill_can_be_cancelled_between_days(client, standin, settings):
    assert client.delete("/ingest").status_code == 409  # nothing to cancel
    standin.inject("timeout")  # the first day's request hangs a while: time to cancel
    assert (
        client.post("/ingest", params={"date": "2025-03-17", "to": "2025-03-21"}).status_code == 202
    )
    deadline = time.monotonic() + 30
    while not client.get("/status").json()["last_runs"]:  # the first day has begun
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancelled = client.delete("/ingest")
    assert cancelled.status_code == 202 and cancelled.json() == {"status": "cancelling"}
    _wait_until_the_runs_finish(client, count=1)
    while client.app.state.services.job.is_running():
        time.sleep(0.05)
    runs = client.get("/status").json()["last_runs"]
    assert [r["day"] for r in runs] == ["2025-03-17"]  # the day it was on, then no more
    assert not (settings.data_dir / "ingest.cancel").exists()
    # A cancel is for the running job only: the next one runs every day.
    started = client.post("/ingest", params={"date": "2025-03-18", "to": "2025-03-19"})
    assert started.status_code == 202
    _wait_until_the_runs_finish(client, count=3)


def test_ingest_answers_409_while_a_job_runs_in_this_process_or_another(
    client, settings, standin, tmp_path
):
    """202 only when the job will run: a second request while one runs, or a lock held by
    another process (a CLI backfill), gets 409; once it is done, the next one runs."""
    standin.inject("timeout")  # the first request of the job hangs a while
    assert client.post("/ingest", params={"date": "2025-03-19"}).status_code == 202
    busy = client.post("/ingest", params={"date": "2025-03-20"})
    assert busy.status_code == 409 and "already running" in busy.json()["detail"]
    _wait_until_the_runs_finish(client, count=1)
    with job_lock_held_by_another_process(settings):
        refused = client.post("/ingest", params={"date": "2025-03-20"})
        assert refused.status_code == 409
        assert "a backfill from the command line" in refused.json()["detail"]
    assert client.post("/ingest", params={"date": "2025-03-20"}).status_code == 202
    _wait_until_the_runs_finish(client, count=2)


def _wait_until_the_runs_finish(client, *, count: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        runs = client.get("/status").json()["last_runs"]
        if len(runs) >= count and all(r["finished_at"] for r in runs):
            return
        assert time.monotonic() < deadline, runs
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"date": "1742342400"}, "date"), ({"date": "2025-03-19T00:00"}, "date")]
    + [({"date": "2025-02-30"}, "date"), ({"date": "2025-03-19", "to": "2025-13-01"}, "to")],
)
def test_ingest_takes_calendar_days_only(client, params, field):
    refused = client.post("/ingest", params=params)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", field]


def test_a_retrain_without_labels_fails_with_the_reason_and_no_traceback(client, caplog):
    assert client.post("/retrain").status_code == 202
    deadline = time.monotonic() + 30
    while (state := client.get("/retrain").json())["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state["state"] == "failed" and "no labels yet: mark a paper" in state["message"]
    assert "--" not in state["message"]
    assert not [r for r in caplog.records if r.exc_info]
