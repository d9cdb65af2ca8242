"""``arxiv-reco migrate-to``: a SQLite install's every row moved into an empty database (the
throw-away PostgreSQL of .ci/run), counts checked, ids and their sequences kept, and a target
that is not empty refused with nothing written."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.cli import main
from app.core.db import Database, session_scope
from app.jobs.ingest import ingest_day
from app.store.copy import tables
from app.store.labels import set_label
from app.store.schema import Label, ModelVersion, Paper, Score, Topic
from app.store.topics import create_topic, delete_topic
from tests.conftest import POSTGRES_URL_ENV, _admin_execute
from tests.factories import activate_model_dir

DAY = dt.date(2025, 3, 19)


@pytest.fixture
def postgres_target(postgres_server) -> Iterator[str]:
    """A new, empty database on the throw-away PostgreSQL server (not even migrated)."""
    if postgres_server is None:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL_ENV} (.ci/run starts one)")
    name = f"arxiv_reco_target_{uuid.uuid4().hex[:12]}"
    _admin_execute(postgres_server, f"CREATE DATABASE {name}")
    yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    _admin_execute(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def install(tmp_path, standin, holder, tfidf_meta_model_dir, sessions, settings):
    """A single-reader SQLite install: a day ingested and scored, labels in two topics, a
    model."""
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("the install moved is a SQLite one (the target is the PostgreSQL one)")
    activate_model_dir(sessions, tfidf_meta_model_dir, name="the-model")
    assert ingest_day(sessions, DAY, settings, model=holder.get).status == "success"
    with session_scope(sessions) as session:
        ids = session.scalars(select(Paper.id).order_by(Paper.id)).all()
        robots = create_topic(session, "robots").id
        set_label(session, paper_id=ids[0], interest=1, source="web")
        set_label(session, paper_id=ids[1], interest=0, source="web")
        set_label(session, paper_id=ids[0], interest=0, source="web", topic_id=robots)
        create_topic(session, "deleted-later")  # the highest id, then gone: never reused
    with session_scope(sessions) as session:
        delete_topic(session, "deleted-later")
    return settings


def _counts(url: str) -> dict[str, int]:
    with Database(url, migrate=False) as database, database.engine.connect() as connection:
        return {
            t.name: connection.scalar(select(func.count()).select_from(t)) or 0 for t in tables()
        }


def test_every_row_moves_into_an_empty_postgresql_and_a_full_one_is_refused(
    install, postgres_target, monkeypatch, capsys
):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(install.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", install.resolved_database_url)
    assert main(["migrate-to", postgres_target]) == 0
    out = capsys.readouterr().out
    assert "every count equal" in out and "labels: 3 rows copied" in out
    before, after = _counts(install.resolved_database_url), _counts(postgres_target)
    assert after == before and before["scores"] > 0 and before["topics"] == 2
    with Database(postgres_target, migrate=False) as moved, moved.session() as session:
        robots = session.scalars(select(Topic).where(Topic.name == "robots")).one()
        labels = session.scalars(select(Label).where(Label.topic_id == robots.id)).all()
        assert [label.interest for label in labels] == [0]
        version = session.scalars(select(ModelVersion)).one()
        assert version.is_active and version.name == "the-model"
        # New rows get new ids: the sequences were moved past the copied ones.
        made = create_topic(session, "after-the-move")
        assert made.id > robots.id
        session.flush()
        assert session.scalar(select(func.count(Score.id))) == before["scores"]
    with pytest.raises(SystemExit, match="the target database is not empty"):
        main(["migrate-to", postgres_target])
    assert _counts(postgres_target)["topics"] == 3  # the refused copy wrote nothing


def test_a_bad_url_is_named(install, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(install.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", install.resolved_database_url)
    with pytest.raises(SystemExit, match="migrate-to: 'not a url' is not a database URL"):
        main(["migrate-to", "not a url"])


def test_a_database_of_someone_elses_is_refused_before_anything_is_created(
    install, postgres_target, monkeypatch
):
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(postgres_target)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id integer primary key)"))
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(install.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", install.resolved_database_url)
    with pytest.raises(SystemExit, match="holds tables that are not arxiv-reco's \\(invoices\\)"):
        main(["migrate-to", postgres_target])
    assert inspect(engine).get_table_names() == ["invoices"]
    engine.dispose()


def test_a_row_written_to_the_source_during_the_copy_is_in_none_of_the_tables(
    install, postgres_target, sessions
):
    """The source is read as it was when the copy began: a paper and its label written between
    the copies of the two tables (a web process left running) break nothing, and are not
    moved; the target holds the source as of the copy's start, every count equal."""
    from app.store.copy import copy_database

    before = _counts(install.resolved_database_url)

    def write_meanwhile(line: str) -> None:
        if line.startswith("papers:") and "copied" in line:
            with session_scope(sessions) as session:
                session.add(
                    Paper(
                        id="2503.99999",
                        title="Written during the move",
                        abstract="A paper stored while the copy ran.",
                        authors=["A. Writer"],
                        categories=["cs.LG"],
                        submitted_on=DAY,
                        submitted_at=dt.datetime(2025, 3, 19, 12, tzinfo=dt.timezone.utc),
                    )
                )
            with session_scope(sessions) as session:
                set_label(session, paper_id="2503.99999", interest=1, source="web")

    with (
        Database(install.resolved_database_url, migrate=False) as source,
        Database(postgres_target) as target,
    ):
        copy_database(source.engine, target.engine, progress=write_meanwhile)
    assert _counts(postgres_target) == before
    assert _counts(install.resolved_database_url)["labels"] == before["labels"] + 1
