from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.demo.standin import ArxivStandIn
from app.jobs.arxiv_source import ArxivClient, FetchError
from app.jobs.ingest import ingest_day
from app.serving.holder import LoadedModel, ModelHolder
from app.store.schema import IngestRun, Paper, Score
from tests.factories import activate_model_dir
from training.inference.artifact import PaperInput
from training.inference.predictor import load_predictor, score_papers

WEDNESDAY = dt.date(2025, 3, 19)
FRIDAY = dt.date(2025, 3, 21)
SATURDAY = dt.date(2025, 3, 22)


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def expected_ids(standin: ArxivStandIn, settings: Settings, day: dt.date) -> set[str]:
    return {e.id for e in standin.catalog.on_day(day, settings.categories)}


def test_ingest_stores_every_paper_of_the_day_once_and_scores_it(
    sessions, settings, standin, holder, tiny_model_dir: Path
):
    activate_model_dir(sessions, tiny_model_dir)
    report = ingest_day(sessions, WEDNESDAY, settings, model=holder.get)

    expected = expected_ids(standin, settings, WEDNESDAY)
    assert report.status == "success", report.error
    assert (report.fetched, report.new, report.updated, report.scored) == (
        len(expected),
        len(expected),
        0,
        len(expected),
    )
    with sessions() as session:
        stored = {p.id: p for p in session.scalars(select(Paper))}
        assert set(stored) == expected
        paper = next(iter(stored.values()))
        assert paper.submitted_on == WEDNESDAY and paper.version == 1
        assert paper.authors and paper.title and paper.abstract
        assert paper.primary_category == paper.categories[0]
        assert paper.pdf_url == f"https://arxiv.org/pdf/{paper.id}v1"
        assert set(paper.categories) & {"cs.AI", "cs.CL", "cs.LG"}
        run = session.get_one(IngestRun, report.run_id)
        assert (run.status, run.fetched, run.new, run.scored) == (
            "success",
            len(expected),
            len(expected),
            len(expected),
        )
        assert run.finished_at is not None
    # Paging: 25 a page, every page requested once.
    assert len(standin.requests) == -(-len(expected) // settings.page_size)


def test_a_metadata_model_scores_new_papers_with_their_metadata(
    sessions, settings, holder, tfidf_meta_model_dir: Path
):
    activate_model_dir(sessions, tfidf_meta_model_dir, name="tfidf-meta")
    assert ingest_day(sessions, WEDNESDAY, settings, model=holder.get).status == "success"
    with sessions() as session:
        papers = list(session.scalars(select(Paper).order_by(Paper.id)))
        stored = {s.paper_id: s.probability for s in session.scalars(select(Score))}
    assert any(p.comment for p in papers)
    predictor = load_predictor(tfidf_meta_model_dir)
    with_metadata = score_papers(
        predictor,
        [
            PaperInput(p.title, p.abstract, tuple(p.authors), tuple(p.categories), p.comment)
            for p in papers
        ],
    )
    text_only = score_papers(predictor, [(p.title, p.abstract) for p in papers])
    assert [stored[p.id] for p in papers] == pytest.approx(with_metadata.tolist(), abs=1e-6)
    assert with_metadata.tolist() != pytest.approx(text_only.tolist(), abs=1e-6)


def test_ingesting_a_day_twice_changes_nothing(sessions, settings, holder, tiny_model_dir):
    activate_model_dir(sessions, tiny_model_dir)
    first = ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    with sessions() as session:
        before = [(p.id, p.version, p.last_changed_at) for p in session.scalars(select(Paper))]
    second = ingest_day(sessions, WEDNESDAY, settings, model=holder.get)

    assert second.status == "success"
    assert (second.fetched, second.new, second.updated, second.scored) == (first.fetched, 0, 0, 0)
    with sessions() as session:
        after = [(p.id, p.version, p.last_changed_at) for p in session.scalars(select(Paper))]
    assert after == before
    assert _count(sessions, Score) == first.fetched


def test_a_new_version_updates_the_row_and_is_scored_again(
    sessions, settings, standin, holder, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir)
    ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    paper_id = sorted(expected_ids(standin, settings, WEDNESDAY))[0]
    standin.catalog.revise(paper_id, title="A revised title", summary="A rewritten abstract.")

    report = ingest_day(sessions, WEDNESDAY, settings, model=holder.get)

    assert (report.new, report.updated, report.scored) == (0, 1, 1)
    with sessions() as session:
        paper = session.get_one(Paper, paper_id)
        assert (paper.version, paper.title, paper.abstract) == (
            2,
            "A revised title",
            "A rewritten abstract.",
        )
        assert paper.submitted_on == WEDNESDAY
        scores = session.scalars(select(Score).where(Score.paper_id == paper_id)).all()
        assert [s.paper_version for s in scores] == [2]
    assert _count(sessions, Paper) == len(expected_ids(standin, settings, WEDNESDAY))


def test_weekend_days_are_empty_and_successful(sessions, settings):
    report = ingest_day(sessions, SATURDAY, settings)
    assert (report.status, report.fetched) == ("success", 0)


def test_without_a_model_papers_are_stored_unscored_then_scored_later(
    sessions, settings, holder, tiny_model_dir
):
    first = ingest_day(sessions, FRIDAY, settings, model=holder.get)
    assert (first.status, first.scored) == ("success", 0)
    activate_model_dir(sessions, tiny_model_dir)
    second = ingest_day(sessions, FRIDAY, settings, model=holder.get)
    assert (second.new, second.scored) == (0, first.fetched)


@pytest.mark.parametrize("fault", ["429", "503", "timeout", "truncated", "empty", "garbage"])
def test_a_transient_fault_is_retried_and_the_day_completes(sessions, settings, standin, fault):
    settings = settings.model_copy(update={"page_size": 8})
    expected = expected_ids(standin, settings, WEDNESDAY)
    pages = -(-len(expected) // settings.page_size)
    assert pages >= 2
    # The fault hits the second page, so that "empty" is a spurious empty page mid-way.
    standin.inject("ok", fault)
    report = ingest_day(sessions, WEDNESDAY, settings)

    assert report.status == "success", report.error
    assert report.new == len(expected)
    assert len(standin.requests) == pages + 1  # one retried request
    with sessions() as session:
        assert set(session.scalars(select(Paper.id))) == expected


def test_a_persistent_failure_is_recorded_and_the_next_run_completes_the_day(
    sessions, settings, standin
):
    standin.inject(*["503"] * (settings.retries + 1))
    failed = ingest_day(sessions, WEDNESDAY, settings)

    assert failed.status == "failed"
    assert "503" in (failed.error or "")
    assert _count(sessions, Paper) == 0
    with sessions() as session:
        run = session.get_one(IngestRun, failed.run_id)
        assert run.status == "failed" and "503" in (run.error or "")

    retried = ingest_day(sessions, WEDNESDAY, settings)
    assert retried.status == "success"
    assert retried.new == len(expected_ids(standin, settings, WEDNESDAY))


def test_a_client_error_is_not_retried(sessions, settings, standin):
    client = ArxivClient(settings)
    with pytest.raises(FetchError, match="HTTP 400"):
        client.fetch(id_list=["abc"])  # arXiv answers a malformed id with 400 and an error feed
    assert len(standin.requests) == 1


def test_the_client_reads_an_id_lookup(settings, standin):
    paper_id = sorted(standin.catalog.entries)[0]
    [paper] = ArxivClient(settings).fetch(id_list=[f"{paper_id}v1"])
    entry = standin.catalog.entries[paper_id]
    assert (paper.id, paper.version, paper.categories, paper.submitted_at) == (
        paper_id,
        1,
        entry.categories,
        entry.published,
    )


def test_a_crash_while_scoring_keeps_the_papers_and_the_next_run_scores_them(
    sessions, settings, holder, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir)
    good = holder.get()
    assert good is not None

    class Exploding:
        meta = good.predictor.meta
        path = good.predictor.path
        device = "cpu"

        def predict_proba(self, texts, *, progress=False):
            raise RuntimeError("out of memory")

    broken = LoadedModel(good.version_id, good.name, good.threshold, Exploding())
    failed = ingest_day(sessions, WEDNESDAY, settings, model=lambda: broken)
    assert failed.status == "failed" and "out of memory" in (failed.error or "")
    assert _count(sessions, Paper) == failed.fetched and _count(sessions, Score) == 0

    retried = ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    assert (retried.status, retried.new, retried.scored) == ("success", 0, failed.fetched)


def test_requests_are_spaced_by_the_configured_delay(sessions, settings, standin):
    polite = settings.model_copy(update={"request_delay_seconds": 0.3, "page_size": 6})
    ingest_day(sessions, WEDNESDAY, polite)
    times = [t for t, _ in standin.requests]
    assert len(times) >= 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.29


def test_model_holder_serves_the_newly_activated_version(
    sessions, settings, tiny_model_dir, tmp_path
):
    holder = ModelHolder(sessions, device="cpu", batch_size=8)
    assert holder.get() is None
    first = activate_model_dir(sessions, tiny_model_dir, name="first")
    assert holder.get().version_id == first
    copy = tmp_path / "second"
    shutil.copytree(tiny_model_dir, copy)
    second = activate_model_dir(sessions, copy, name="second")
    loaded = holder.get()
    assert (loaded.version_id, loaded.name) == (second, "second")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://export.arxiv.invalid/api/query", "the name export.arxiv.invalid does not resolve"),
        ("http://127.0.0.1:9/api/query", "127.0.0.1 refused the connection"),
    ],
)
def test_offline_a_day_fails_in_seconds_with_one_human_line(sessions, settings, url, why, caplog):
    # The default backoff and retries: a 429 or 503 would be retried 4 times over a minute.
    offline = settings.model_copy(
        update={"arxiv_api_url": url, "retries": 4, "retry_backoff_seconds": 5.0}
    )
    started = time.monotonic()
    failed = ingest_day(sessions, WEDNESDAY, offline)
    assert time.monotonic() - started < 10  # one retry, 2 s later (75 s before)
    assert failed.status == "failed"
    assert failed.error == (
        f"FetchError: arXiv is unreachable at {url}: {why}. Check this machine's network "
        "connection (offline? a proxy?) and ARXIV_RECO_ARXIV_API_URL"
    )
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == offline.connect_retries == 1
    assert "Max retries exceeded" not in caplog.text  # no raw urllib3 text


def test_one_pass_scores_the_day_for_every_topic_and_one_topics_failure_is_its_own(
    sessions, settings, holder, holders, tfidf_meta_model_dir, tmp_path, caplog
):
    """Issue 19: the other topics' models score the new papers in the ingestion's own pass (the
    tfidf models sharing the terms); a topic whose model fails leaves the day a success."""
    from app.core.db import session_scope
    from app.serving.registry import register_model
    from app.store.topics import create_topic
    from training.inference.artifact import ModelMeta

    activate_model_dir(sessions, tfidf_meta_model_dir, name="default-model")
    versions = {}
    with session_scope(sessions) as session:
        for name in ("robots", "broken"):
            copy = tmp_path / name
            shutil.copytree(tfidf_meta_model_dir, copy)
            topic = create_topic(session, name)
            versions[name] = register_model(
                session, path=copy, meta=ModelMeta.load(copy), activate=True, topic_id=topic.id
            ).id
    others = holders.others_for_scoring()
    assert [m.version_id for m in others] == [versions["robots"], versions["broken"]]
    others[1].predictor.pipeline = None  # scoring with it fails
    report = ingest_day(
        sessions, WEDNESDAY, settings, model=holder.for_scoring, others=lambda: others
    )
    assert report.status == "success" and report.scored == report.fetched > 0
    with sessions() as session:
        by_version = dict(
            session.execute(
                select(Score.model_version_id, func.count(Score.id)).group_by(
                    Score.model_version_id
                )
            ).all()
        )
    default = holder.get().version_id
    assert by_version == {default: report.fetched, versions["robots"]: report.fetched}
    assert "failed to score; its topic catches up later" in caplog.text
    # The same scores as the robots model gives alone (the same model, another topic).
    with sessions() as session:
        probabilities = {
            version: sorted(
                session.scalars(select(Score.probability).where(Score.model_version_id == version))
            )
            for version in (default, versions["robots"])
        }
    assert probabilities[default] == pytest.approx(probabilities[versions["robots"]], abs=1e-6)


def test_without_a_default_model_another_topics_failure_leaves_the_day_a_success(
    sessions, settings, holders, tfidf_meta_model_dir, tmp_path
):
    from app.core.db import session_scope
    from app.serving.registry import register_model
    from app.store.topics import create_topic
    from training.inference.artifact import ModelMeta

    copy = tmp_path / "broken"
    shutil.copytree(tfidf_meta_model_dir, copy)
    with session_scope(sessions) as session:
        topic = create_topic(session, "broken")
        register_model(
            session, path=copy, meta=ModelMeta.load(copy), activate=True, topic_id=topic.id
        )
    (broken,) = holders.others_for_scoring()
    broken.predictor.pipeline = None
    report = ingest_day(sessions, WEDNESDAY, settings, model=lambda: None, others=lambda: [broken])
    assert report.status == "success" and report.fetched > 0 and report.scored == 0
    assert _count(sessions, Score) == 0
