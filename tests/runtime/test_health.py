"""Every failure visible: /health turns ``degraded`` and names the problem, /status and the
page show the same list."""

from __future__ import annotations

import datetime as dt

import pytest

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.main import create_app, start_services
from app.store.schema import IngestRun
from tests.factories import activate_model_dir, local_client

WEDNESDAY, SUNDAY = dt.date(2025, 3, 19), dt.date(2025, 3, 23)


def _problems(client) -> list[str]:
    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == ("degraded" if body["problems"] else "ok")
    assert body["problems"] == client.get("/status").json()["warnings"]
    return body["problems"]


def test_a_new_service_is_degraded_until_it_has_a_model(client, sessions, tiny_model_dir):
    assert _problems(client) == ["no model is active: papers are stored but not scored"]
    assert client.get("/health").json()["model"] == "none"
    activate_model_dir(sessions, tiny_model_dir)
    assert _problems(client) == []


def test_failed_interrupted_and_empty_days_degrade_health(
    client, sessions, settings, standin, holder, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir)
    standin.inject(*["503"] * (settings.retries + 1))  # every try of one day
    assert ingest_day(sessions, WEDNESDAY, settings).status == "failed"
    (failed,) = _problems(client)
    assert failed.startswith("the last ingestion of 2025-03-19 failed") and "503" in failed
    assert "2025-03-19 failed" in client.get("/").text
    assert ingest_day(sessions, WEDNESDAY, settings, model=holder.get).status == "success"
    assert _problems(client) == []

    # A process killed mid-run leaves it running; the next start marks it interrupted.
    with session_scope(sessions) as session:
        session.add(IngestRun(day=SUNDAY - dt.timedelta(days=1), trigger="api", status="running"))
    start_services(settings).database.dispose()
    (interrupted,) = _problems(client)
    assert "2025-03-22 interrupted" in interrupted

    # arXiv claiming zero papers on a weekday (none recorded for this Thursday) is not a
    # silent success.
    empty = dt.date(2025, 3, 13)
    assert ingest_day(sessions, empty, settings, model=holder.get).fetched == 0
    assert any("no papers on weekday 2025-03-13" in p for p in _problems(client))


@pytest.mark.sqlite_only  # backups copy SQLite files; PostgreSQL's answer is pg_dump
def test_a_failed_nightly_backup_degrades_health_until_one_succeeds(
    settings, sessions, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    blocked = settings.data_dir / "not-a-dir"
    blocked.write_text("a file where the backups should go")
    with local_client(create_app(settings.model_copy(update={"backup_dir": blocked}))) as client:
        job = client.app.state.services.job
        job.backup()
        (problem,) = _problems(client)
        assert problem.startswith("the last backup failed") and "not-a-dir" in problem
        job.settings = job.settings.model_copy(update={"backup_dir": settings.data_dir / "b"})
        job.backup()
        assert _problems(client) == []


def test_a_web_process_whose_worker_misses_the_daily_run_says_so(
    settings, sessions, tiny_model_dir
):
    """A web process of `serve --workers` runs no scheduler: a daily run that nobody did since
    its scheduled time (the worker is down) still degrades its /health."""
    activate_model_dir(sessions, tiny_model_dir)
    with local_client(create_app(settings, rescore=False)) as client:
        (problem,) = _problems(client)
        assert "has not succeeded since its last scheduled time" in problem
        assert "is `arxiv-reco worker` running?" in problem
    with local_client(create_app(settings)) as alone:  # no scheduler, jobs not elsewhere
        assert _problems(alone) == []
