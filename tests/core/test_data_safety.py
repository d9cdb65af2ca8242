"""Labels are never lost silently: a deleted database is not made anew, writes into a deleted
file are refused, and backups restore."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cli import main
from app.core.db import CREATED_SUFFIX, Database, DatabaseMissing, session_scope
from app.jobs.backup import BackupError, take_backup
from app.jobs.ingest import ingest_day
from app.jobs.scheduler import DailyJob
from app.main import ROUTERS, create_app
from app.store.labels import import_labels_csv
from app.store.schema import Label, Paper
from tests.api.conftest import WEDNESDAY
from tests.conftest import LABELS_CSV
from tests.factories import activate_model_dir, local_client
from training.inference.layout import load_labelled_csv

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def env(monkeypatch, settings):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)


def test_a_deleted_database_is_not_made_anew(settings, database, env):
    path = database.path
    assert path is not None and path.with_name(path.name + CREATED_SUFFIX).exists()
    database.dispose()
    path.unlink()
    with pytest.raises(DatabaseMissing, match="is gone; nothing was made in its place"):
        Database(settings.resolved_database_url)
    with pytest.raises(SystemExit, match="refused: .* is gone"):
        main(["labels", "export"])
    with pytest.raises(SystemExit, match="is gone"):
        main(["serve"])
    assert not path.exists()
    # Deleting the record of creation, as the message says, starts an empty database.
    path.with_name(path.name + CREATED_SUFFIX).unlink()
    assert main(["labels", "export"]) == 0 and path.exists()


def test_writes_into_a_deleted_database_file_are_refused_loudly(settings, sessions, standin):
    ingest_day(sessions, WEDNESDAY, settings)
    paper_id = sorted(e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories))[0]
    with local_client(create_app(settings)) as client:
        assert client.post(f"/papers/{paper_id}/label", json={"interest": 1}).status_code == 200
        settings.data_dir.joinpath("arxiv_reco.db").unlink()
        lost = client.post(f"/papers/{paper_id}/label", json={"interest": 0})
        assert lost.status_code == 503 and "was deleted while the service ran" in lost.text
        health = client.get("/health")
        assert health.status_code == 503 and "deleted" in health.json()["detail"]


# Pages that read nothing stored: the API's documentation, the icon.
NO_DATABASE = {"/docs", "/redoc", "/favicon.ico", "/login"}  # the sign-in form reads nothing
QUERIES = {"/search": "?q=model", "/seed/author": "?name=Kim"}


def _get_routes() -> list[str]:
    """Every GET route of the service, path parameters filled with a stored paper's id."""
    paths: list[str] = []
    for router in ROUTERS:
        for route in router.routes:
            if "GET" in getattr(route, "methods", ()) and route.path not in paths:
                paths.append(route.path)
    return [
        path.replace("{paper_id:path}", "2503.13531") + QUERIES.get(path, "")
        for path in paths
        if path not in NO_DATABASE
    ]


@pytest.mark.parametrize("deleted", ["the file", "the file, its -wal and -shm"])
def test_every_read_of_a_deleted_database_is_503(
    settings, sessions, holder, tfidf_meta_model_dir, deleted
):
    """The attack of issue 17: with the database deleted, /recommendations answered 500 (its
    response cache read the deleted file) and other pages answered from the deleted file."""
    activate_model_dir(sessions, tfidf_meta_model_dir)
    ingest_day(sessions, WEDNESDAY, settings, model=holder.get)
    routes = _get_routes()
    assert len(routes) >= 16 and "/recommendations" in routes
    with local_client(create_app(settings), raise_server_exceptions=False) as client:
        for route in routes:  # every cache and connection warm
            client.get(route)
        live = settings.data_dir / "arxiv_reco.db"
        for path in [live] if deleted == "the file" else settings.data_dir.glob("arxiv_reco.db*"):
            if not path.name.endswith(CREATED_SUFFIX):
                path.unlink()
        answers = {
            (route, accept): client.get(route, headers={"Accept": accept})
            for route in routes
            for accept in ("application/json", "text/html")
        }
    wrong = {key: a.status_code for key, a in answers.items() if a.status_code != 503}
    assert wrong == {}
    for answer in answers.values():
        assert "was deleted while the service ran" in answer.json()["detail"]


def test_a_backup_restores_every_label_by_the_readmes_steps(
    settings, sessions, standin, env, capsys
):
    ingest_day(sessions, WEDNESDAY, settings)
    with session_scope(sessions) as session:
        report = import_labels_csv(session, LABELS_CSV)
    assert report.new_labels == 300
    assert main(["backup"]) == 0
    database_copy, labels_copy = sorted((settings.data_dir / "backups").iterdir())
    assert f"wrote {database_copy} and {labels_copy}" in capsys.readouterr().out

    # The README's restore: stop the service, copy the backup over the database (the -wal and
    # -shm files of the lost one go too), start again.
    live = settings.data_dir / "arxiv_reco.db"
    for path in settings.data_dir.glob("arxiv_reco.db*"):
        if not path.name.endswith(CREATED_SUFFIX):
            path.unlink()
    shutil.copy(database_copy, live)
    with Database(settings.resolved_database_url) as restored, restored.session() as session:
        assert session.scalar(select(func.count()).select_from(Label)) == 300
        assert session.scalar(select(func.count()).select_from(Paper)) >= 300
    # The labels CSV imports anywhere, whole.
    back = load_labelled_csv(labels_copy)
    assert len(back) == 300 and set(back["paper_id"]) == set(
        load_labelled_csv(LABELS_CSV)["paper_id"]
    )


def test_backups_rotate_and_the_daily_job_takes_one(
    settings, sessions, holder, standin, env, capsys
):
    directory = settings.data_dir / "backups"
    stamps = [dt.datetime(2025, 3, d, 2, 0, tzinfo=dt.timezone.utc) for d in (1, 2, 3)]
    for now in stamps:
        take_backup(settings, sessions, keep=2, now=now)
    assert sorted(p.name for p in directory.iterdir()) == [
        "arxiv_reco-20250302T020000Z.db",
        "arxiv_reco-20250303T020000Z.db",
        "labels-20250302T020000Z.csv",
        "labels-20250303T020000Z.csv",
    ]
    with pytest.raises(SystemExit):
        main(["backup", "--keep", "-1"])
    assert "--keep: must be 0 or more, got -1" in capsys.readouterr().err
    job = DailyJob(sessions, settings.model_copy(update={"backup_keep": 2}), holder)
    job.run(trigger="schedule", today=dt.date(2025, 3, 20))
    assert job.last_backup_error is None
    assert len(list(directory.glob("arxiv_reco-*.db"))) == 2  # today's, and one before
    assert not list(directory.glob("*.partial"))


def test_a_postgresql_database_is_not_backed_up_here_and_says_how(settings, sessions):
    elsewhere = settings.model_copy(update={"database_url": "postgresql+psycopg://db/reco"})
    with pytest.raises(BackupError, match="pg_dump"):
        take_backup(elsewhere, sessions)


def _modes(directory: Path) -> dict[str, int]:
    return {
        str(path.relative_to(directory.parent)): stat.S_IMODE(path.stat().st_mode)
        for path in [directory, *directory.rglob("*")]
        if path.name != "ingest.lock" and not path.name.startswith("ingest.")
    }


def test_the_database_its_backups_and_secrets_are_the_owners_alone(settings, standin):
    """Issue 17: the database and the backups were world-readable (0644) under a usual umask.
    Now every file of them is 0600 in a 0700 data directory, and an older data directory's
    files are closed to others at the next start."""
    from app.core.access import stored_token
    from app.digest.links import digest_key

    wanted = {"data": 0o700, "data/backups": 0o700}
    umask = os.umask(0o022)
    try:
        for start in ("new", "made by an earlier version"):
            with local_client(create_app(settings)) as client:
                services = client.app.state.services
                ingest_day(services.sessions, WEDNESDAY, settings)
                paper = sorted(
                    e.id for e in standin.catalog.on_day(WEDNESDAY, settings.categories)
                )[0]
                assert (
                    client.post(f"/papers/{paper}/label", json={"interest": 1}).status_code == 200
                )
                services.job.backup()
                stored_token(settings.data_dir), digest_key(settings)
                modes = _modes(settings.data_dir)
            names = set(modes)
            assert {"data/arxiv_reco.db-wal", "data/arxiv_reco.db-shm"} <= names, start
            assert {"data/api_token", "data/digest_secret", "data/arxiv_reco.db.created"} <= names
            assert any(name.startswith("data/backups/labels-") for name in names)
            assert modes == {name: wanted.get(name, 0o600) for name in names}, start
            # What an earlier version left (its secrets were 0600 already: a loose one is
            # refused, since others may have read it).
            for path in [settings.data_dir, *settings.data_dir.rglob("*")]:
                if path.name not in ("api_token", "digest_secret"):
                    path.chmod(0o755 if path.is_dir() else 0o644)
    finally:
        os.umask(umask)
