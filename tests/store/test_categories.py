"""The followed categories: stored in the database, the environment's list until then, read by
ingestion and health through ``app.store.categories.followed_categories``; migration 0006 up
and down."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import column, insert, inspect, select, table

from app.core.config import arxiv_categories, split_subject_classes
from app.core.db import Database, alembic_config, session_scope
from app.jobs.ingest import ingest_day
from app.main import start_services, stop_services
from app.runtime.health import service_problems
from app.store.categories import (
    BACKFILL_TRIGGER,
    CategoryError,
    backfill_days,
    backfill_status,
    followed_categories,
    plan_change,
    store_change,
    taxonomy,
)
from app.store.schema import FollowedCategory, IngestRun, OnboardingSkip, Paper
from tests.factories import paper_row

WEDNESDAY, THURSDAY = dt.date(2025, 3, 19), dt.date(2025, 3, 20)


def _follow(sessions, settings, names, backfill=None):
    with session_scope(sessions) as session:
        change = plan_change(session, settings, names)
        store_change(session, change, backfill=backfill)
    return change


def test_the_environment_is_followed_until_the_database_holds_a_list(sessions, settings):
    with sessions() as session:
        assert followed_categories(session, settings) == ["cs.AI", "cs.CL", "cs.LG"]
    change = _follow(sessions, settings, ["cs.LG", "cs.CV", "cs.LG", " stat.ML "])
    assert (change.added, change.removed) == (["cs.CV", "stat.ML"], ["cs.AI", "cs.CL"])
    with sessions() as session:
        assert followed_categories(session, settings) == ["cs.CV", "cs.LG", "stat.ML"]
    change = _follow(sessions, settings, ["cs.CV"])
    assert (change.added, change.removed) == ([], ["cs.LG", "stat.ML"])
    with sessions() as session:
        assert followed_categories(session, settings) == ["cs.CV"]


def test_unknown_and_empty_lists_are_refused_naming_each_category(sessions, settings):
    with sessions() as session, pytest.raises(CategoryError) as caught:
        plan_change(session, settings, ["cs.lg", "cs.XX", "cs.CV"])
    assert len(caught.value.problems) == 2
    assert "'cs.lg' is not an arXiv category (did you mean cs.LG?)" in caught.value.problems[0]
    assert "'cs.XX'" in caught.value.problems[1]
    with sessions() as session, pytest.raises(CategoryError, match="at least one"):
        plan_change(session, settings, [" ", ""])
    with sessions() as session:
        assert session.scalars(select(FollowedCategory)).all() == []


def test_ingestion_fetches_the_stored_categories(sessions, settings, standin):
    _follow(sessions, settings, ["cs.CV"])
    report = ingest_day(sessions, WEDNESDAY, settings)
    expected = {e.id for e in standin.catalog.on_day(WEDNESDAY, ["cs.CV"])}
    assert report.status == "success" and report.fetched == len(expected) == 60
    # Only these: given categories (a new one's backfill) fetch those alone.
    report = ingest_day(sessions, THURSDAY, settings, categories=["cs.RO"])
    assert report.fetched == len(standin.catalog.on_day(THURSDAY, ["cs.RO"])) == 4
    with sessions() as session:
        assert len(session.scalars(select(Paper.id)).all()) == 64


def test_a_removed_category_is_no_longer_fetched_and_its_papers_stay(sessions, settings, standin):
    ingest_day(sessions, WEDNESDAY, settings)
    with sessions() as session:
        before = set(session.scalars(select(Paper.id)))
    _follow(sessions, settings, ["cs.CL"])
    report = ingest_day(sessions, WEDNESDAY, settings)
    assert report.fetched == len(standin.catalog.on_day(WEDNESDAY, ["cs.CL"])) == 1
    with sessions() as session:
        assert set(session.scalars(select(Paper.id))) == before


def test_backfill_days_end_at_the_newest_listed_day():
    today = dt.date(2026, 12, 1)
    assert backfill_days(dt.date(2025, 3, 21), today=today) == (
        dt.date(2025, 3, 15),
        dt.date(2025, 3, 21),
    )
    assert backfill_days(None, today=today) == (dt.date(2026, 11, 24), dt.date(2026, 11, 30))
    assert backfill_days(None, today=today, days=7, max_days=2) == (
        dt.date(2026, 11, 29),
        dt.date(2026, 11, 30),
    )
    assert backfill_days(dt.date(2027, 1, 1), today=today)[1] == today


def _run(sessions, day, status, new=0, error=None, trigger=BACKFILL_TRIGGER):
    with session_scope(sessions) as session:
        session.add(
            IngestRun(day=day, trigger=trigger, status=status, fetched=new, new=new, error=error)
        )


def test_the_backfill_state_follows_its_runs(sessions, settings):
    with sessions() as session:
        assert backfill_status(session, job_running=lambda: False) is None
    _follow(sessions, settings, ["cs.AI", "cs.CV", "cs.RO"], backfill=(WEDNESDAY, THURSDAY))

    def state(running: bool):
        with sessions() as session:
            status = backfill_status(session, job_running=lambda: running)
        assert status is not None and status.categories == ["cs.CV", "cs.RO"]
        return status.state, status.days_done, status.new_papers

    assert state(True) == ("running", 0, 0)
    assert state(False) == ("stopped", 0, 0)
    _run(sessions, WEDNESDAY, "success", new=60)
    _run(sessions, THURSDAY, "success", new=99, trigger="api")  # not the backfill's
    assert state(True) == ("running", 1, 60)
    _run(sessions, THURSDAY, "failed", error="FetchError: arXiv answered 503")
    assert state(True) == ("failed", 1, 60)
    _run(sessions, THURSDAY, "success", new=18)
    assert state(False) == ("done", 2, 78)


def test_health_judges_a_day_by_its_full_runs_not_a_new_categorys_backfill(
    sessions, settings, tiny_model_dir
):
    from tests.factories import activate_model_dir

    activate_model_dir(sessions, tiny_model_dir)
    services = start_services(settings)
    try:
        _run(sessions, WEDNESDAY, "success", new=5, trigger="api")
        _run(sessions, WEDNESDAY, "success", new=0)  # the new category had nothing that day
        _follow(sessions, settings, ["cs.CV"])
        with sessions() as session:
            assert service_problems(session, services) == []
        _run(sessions, THURSDAY, "success", new=0, trigger="api")
        with sessions() as session:
            (problem,) = service_problems(session, services)
        assert problem.startswith("arXiv listed no papers on weekday 2025-03-20 in cs.CV;")
    finally:
        stop_services(services)


def test_the_taxonomy_is_grouped_by_archive_with_names():
    archives = {archive.archive: archive for archive in taxonomy()}
    assert archives["cs"].name == "Computer Science"
    assert ("cs.LG", "Machine Learning") in archives["cs"].categories
    assert archives["hep-th"].name == "High Energy Physics - Theory"
    assert archives["hep-th"].categories == [("hep-th", "High Energy Physics - Theory")]
    assert sum(len(a.categories) for a in archives.values()) == len(arxiv_categories())
    assert all(a.name != a.archive for a in archives.values())


def test_the_migration_stores_categories_and_skips_and_downgrades_cleanly(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "0005")
    command.downgrade(config, "0005")  # PostgreSQL's test database comes migrated to the head
    with Database(database_url, migrate=False) as database:
        tables = set(inspect(database.engine).get_table_names())
        assert not {"followed_categories", "onboarding_skips"} & tables
        command.upgrade(config, "head")
        with database.session() as session:
            session.add(paper_row("2601.00040"))
            session.add(FollowedCategory(category="cs.CV", backfill_first=WEDNESDAY))
            session.flush()
            session.add(OnboardingSkip(paper_id="2601.00040"))
        with database.session() as session:
            assert session.scalars(select(FollowedCategory.category)).all() == ["cs.CV"]
            session.delete(session.get_one(Paper, "2601.00040"))  # its skip goes with it
        with database.session() as session:
            assert session.scalars(select(OnboardingSkip)).all() == []
        command.downgrade(config, "0005")
        assert not {"followed_categories", "onboarding_skips"} & set(
            inspect(database.engine).get_table_names()
        )
        command.upgrade(config, "head")
        with database.session() as session:
            assert session.scalars(select(FollowedCategory)).all() == []


MIXED = ["cs.CL", "cs.AI", "68T50 (Primary) 68T07, 68Q32 (Secondary)", "I.2.6; I.2.7"]


def test_subject_classes_are_told_from_arxiv_categories():
    """arXiv's API lists MSC and ACM classes among a paper's category terms (issue 17)."""
    assert split_subject_classes([*MIXED, "hep-th", "cond-mat.mes-hall", "cs.CL"]) == (
        ["cs.CL", "cs.AI", "hep-th", "cond-mat.mes-hall"],
        ["68T50 (Primary) 68T07, 68Q32 (Secondary)", "I.2.6; I.2.7"],
    )


def test_the_migration_moves_stored_subject_classes_out_of_the_categories(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "0006")
    command.downgrade(config, "0006")  # PostgreSQL's test database comes migrated to the head
    with Database(database_url, migrate=False) as database:
        before = [c for c in Paper.__table__.columns if c.name != "subject_classes"]
        papers = table("papers", *(column(c.name, c.type) for c in before))
        with database.session() as session:
            for paper in (paper_row("2601.00050", categories=MIXED), paper_row("2601.00051")):
                session.execute(
                    insert(papers).values({c.name: getattr(paper, c.key) for c in before})
                )
        command.upgrade(config, "head")
        with database.session() as session:
            mixed, plain = (
                session.get_one(Paper, "2601.00050"),
                session.get_one(Paper, "2601.00051"),
            )
            assert (mixed.categories, mixed.subject_classes) == (["cs.CL", "cs.AI"], MIXED[2:])
            assert (plain.categories, plain.subject_classes) == (["cs.LG"], [])
        command.downgrade(config, "0006")
        with database.session() as session:
            terms = session.execute(select(papers.c.categories).where(papers.c.id == "2601.00050"))
            assert terms.scalar_one() == MIXED
        command.upgrade(config, "head")
