"""The loop from labels to recommendations, as a reader meets it on the page and the API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.jobs.retrain import retrain
from app.jobs.scheduler import DailyJob
from app.store.labels import import_labels_csv
from app.store.schema import Paper, Score
from tests.conftest import LABELS_CSV
from tests.factories import activate_model_dir, copy_with_threshold, eventually

WEDNESDAY, THURSDAY = dt.date(2025, 3, 19), dt.date(2025, 3, 20)


def test_papers_imported_with_labels_never_become_days(client, sessions, settings, holder):
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)  # papers dated up to 2025-05-09
    ingest_day(sessions, WEDNESDAY, settings)
    page = client.get("/").text
    assert "<title>arxiv-reco · 2025-03-19</title>" in page
    assert 'id="next-day"' not in page  # the imported papers' later dates are not days
    retrain(sessions, settings)
    DailyJob(sessions, settings, holder).rescore()
    listing = client.get("/recommendations").json()
    assert listing["date"] == "2025-03-19"
    assert listing["total_papers"] > 0 and listing["pending"] == 0


def test_a_new_model_keeps_the_previous_scores_until_it_reaches_a_day(
    client, sessions, settings, holder, tiny_model_dir, tmp_path
):
    first = activate_model_dir(sessions, tiny_model_dir, name="first")
    for day in (WEDNESDAY, THURSDAY):
        ingest_day(sessions, day, settings, model=holder.get)
    second_dir = copy_with_threshold(tiny_model_dir, tmp_path / "second", 0.0)
    second = activate_model_dir(sessions, second_dir, name="second")

    listing = client.get("/recommendations", params={"date": "2025-03-20"}).json()
    assert listing["rescoring"] is True and listing["active_model_id"] == second
    assert listing["model"]["id"] == first and listing["pending"] == 0
    assert 0 < listing["recommended"] < listing["total_papers"]  # the first model's threshold
    page = client.get("/?date=2025-03-20").text
    assert 'id="rescoring-note"' in page and "scores of first" in page
    # The papers the list counts as recommended are styled so, above the divider.
    assert page.count('class="paper"') == listing["recommended"]
    status = client.get("/status").json()
    assert status["rescoring"]["scored"] == 0 < status["rescoring"]["papers"]
    assert any("keep the previous model's scores" in w for w in status["warnings"])

    DailyJob(sessions, settings, holder).rescore()
    listing = eventually(
        lambda: client.get("/recommendations", params={"date": "2025-03-20"}).json(),
        lambda listing: listing["rescoring"] is False,
    )
    assert listing["rescoring"] is False and listing["model"]["id"] == second
    assert listing["recommended"] == listing["total_papers"]  # threshold 0
    status = client.get("/status").json()
    assert status["rescoring"]["scored"] == status["rescoring"]["papers"]


def test_the_page_divides_recommended_from_the_rest_and_says_how_many(
    client, sessions, settings, holder
):
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    ingest_day(sessions, WEDNESDAY, settings)  # no model yet
    outcome = retrain(sessions, settings)
    assert DailyJob(sessions, settings, holder).rescore() > 0
    listing = client.get("/recommendations", params={"date": "2025-03-19", "all": "true"}).json()
    recommended, total = listing["recommended"], listing["total_papers"]
    assert 0 < recommended < total
    page = client.get("/?date=2025-03-19&all=true").text
    assert f"{recommended} recommended</strong> of {total} papers" in page
    assert page.count('class="divider"') == 1
    divider = page.index('class="divider"')
    assert page.count('class="paper"', 0, divider) == recommended  # recommended ones above it
    assert page.count('class="paper below"', divider) == total - recommended
    assert f"(cli, {outcome.labels} labels):\n      activated" in page


def test_papers_imported_with_labels_are_never_pending_rescoring(
    client, sessions, settings, holder, tfidf_meta_model_dir
):
    """Issue 17: the demo said 're-scoring 274 of 674' from its start: the 400 papers that
    came with its imported labels are on no listed day, ingestion never scores them, and they
    were counted as waiting for the model."""
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)  # 300 papers, none on a listing day
    activate_model_dir(sessions, tfidf_meta_model_dir)
    report = ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    # The day's papers, and the few imported ones of the same date, which its list shows.
    assert report.scored >= report.new > 0
    status = client.get("/status").json()
    assert status["rescoring"] == {"papers": report.scored, "scored": report.scored}
    assert not any("keep the previous model's scores" in w for w in status["warnings"])
    assert "re-scoring with the new model" not in client.get("/").text
    # A re-scoring for a newly served model (the service's first load started one) scores them
    # too (search shows their scores), uncounted.
    DailyJob(sessions, settings, holder).rescore()
    with sessions() as session:
        papers = session.scalar(select(func.count(Paper.id)))
        assert session.scalar(select(func.count(Score.id))) == papers == 300 + report.new
    progress = client.get("/status").json()["rescoring"]
    assert progress == {"papers": report.scored, "scored": report.scored}
