"""Web and worker apart (issue 20): on PostgreSQL the job's one lock is the database's, seen by
every host that shares it and freed when its holder dies; two workers started together run the
daily job once; two web processes see each other's labels and a model the worker activates,
without a restart. Every process here is a real one (``sys.executable``), each with a data
directory of its own, as on another host: no file lock could join them."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from app.core.db import session_scope
from app.jobs.lock import ADVISORY_KEY, DAILY_JOB, DatabaseJobLock
from app.serving.registry import register_model
from app.store.schema import IngestRun, Paper
from tests.live import free_port
from tests.processes import ROOT
from training.inference.artifact import ModelMeta

SATURDAY = dt.date(2025, 3, 22)  # the daily job on Saturday ingests Wednesday to Friday


@pytest.fixture
def postgres(settings):
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("the database's own lock is PostgreSQL's; SQLite keeps the file lock")
    return settings


def _environment(settings, data_dir: Path, **more: str) -> dict[str, str]:
    """Another host's environment: its own data directory, the shared database and arXiv."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARXIV_RECO_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        ARXIV_RECO_DATA_DIR=str(data_dir),
        ARXIV_RECO_DATABASE_URL=settings.resolved_database_url,
        ARXIV_RECO_ARXIV_API_URL=settings.arxiv_api_url,
        ARXIV_RECO_REQUEST_DELAY_SECONDS="0",
        ARXIV_RECO_RETRIES="1",
        ARXIV_RECO_PAGE_SIZE="25",
        ARXIV_RECO_JOB_PROCESS="false",
        **more,
    )
    return environment


def _python(settings, data_dir: Path, code: str, **more: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=_environment(settings, data_dir, **more),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


HOLD_THE_LOCK = """
    import sys, time
    from app.core.config import Settings
    from app.core.db import Database
    from app.jobs.lock import DAILY_JOB, job_lock
    database = Database(Settings().resolved_database_url)
    lock = job_lock(Settings().data_dir, database.sessions)
    assert lock.take(what=DAILY_JOB)
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_lock_is_seen_from_another_host_and_freed_when_its_holder_is_killed(
    postgres, database, tmp_path
):
    """A few seconds: the holder is a process of its own (its start imports the service)."""
    holder = _python(postgres, tmp_path / "host-a", HOLD_THE_LOCK)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = DatabaseJobLock(database.engine)
        assert not lock.take(wait=0.3)
        named = lock.holder()
        assert (named.what, named.pid) == (DAILY_JOB, holder.pid)
        holder.send_signal(signal.SIGKILL)  # no give(), no clean-up: the connection dies
        holder.wait(timeout=10)
        started = time.monotonic()
        assert lock.take(wait=15, what="a test")
        print(f"taken {time.monotonic() - started:.2f} s after the holder was killed")
        lock.give()
    finally:
        if holder.poll() is None:
            holder.kill()


RUN_THE_DAILY_JOB = """
    import datetime as dt
    from app.core.config import Settings
    from app.core.db import Database
    from app.jobs.scheduler import DailyJob
    settings = Settings()
    database = Database(settings.resolved_database_url)
    reports = DailyJob(database.sessions, settings, None).run(
        trigger="schedule", today=dt.date(2025, 3, 22), once=True
    )
    print("ran", len(reports), flush=True)
"""


def test_two_workers_started_together_run_the_daily_job_once(postgres, database, tmp_path):
    """About 15 s: two processes start (imports), and one ingests three days."""
    workers = [_python(postgres, tmp_path / f"host-{n}", RUN_THE_DAILY_JOB) for n in (1, 2)]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    ran = sorted(out.strip().splitlines()[-1] for out in outputs)
    # One ingested Wednesday to Friday; the other skipped, while it ran or after it, finding
    # the schedule's run done.
    assert ran == ["ran 0", "ran 3"], outputs
    with database.sessions() as session:
        days = session.scalars(select(IngestRun.day).order_by(IngestRun.day)).all()
    assert days == [dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21)]


@pytest.fixture
def two_web_processes(postgres, database, tmp_path) -> Iterator[list[str]]:
    """Two `arxiv-reco serve` processes without the scheduler, each its own host's."""
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=_environment(
                postgres, tmp_path / f"web-{port}", ARXIV_RECO_SCHEDULER_ENABLED="false"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 90
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "a web process did not start"
                time.sleep(0.3)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_two_web_processes_share_labels_and_a_model_the_worker_activates(
    two_web_processes, postgres, sessions, holder, tfidf_meta_model_dir, tmp_path
):
    """About 15 s, most of it the two `serve` processes starting."""
    from app.jobs.ingest import ingest_day

    first, second = two_web_processes
    day = dt.date(2025, 3, 19)
    assert ingest_day(sessions, day, postgres).status == "success"
    with sessions() as session:
        paper = session.scalars(select(Paper.id).where(Paper.submitted_on == day)).first()
    labelled = httpx.post(f"{first}/papers/{paper}/label", json={"interest": 1})
    assert labelled.status_code == 200, labelled.text
    assert httpx.get(f"{second}/papers/{paper}").json()["label"] == 1

    # The worker activates a model; both web processes serve it at their next request.
    with session_scope(sessions) as session:
        version = register_model(
            session,
            path=tfidf_meta_model_dir,
            meta=ModelMeta.load(tfidf_meta_model_dir),
            name="from-the-worker",
            activate=True,
        ).id
    for url in (first, second):
        answer = httpx.post(
            f"{url}/score", json={"abstract": "A paper about language models."}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"]["id"] == version


def test_a_scheduled_run_skips_a_schedule_already_run_and_never_keeps_the_lock(
    settings, sessions, holder, monkeypatch
):
    """The deterministic half of "two workers run the daily job once": the second run of one
    schedule (another worker's, taking the lock after the first gave it back) does nothing; and
    a failure before the job starts gives the lock back."""
    from app.jobs.scheduler import DailyJob

    job = DailyJob(sessions, settings, holder)
    assert len(job.run(trigger="schedule", today=SATURDAY, once=True)) == 3
    assert job.run(trigger="schedule", today=SATURDAY, once=True) == []
    assert len(job.run(trigger="manual", today=SATURDAY)) == 3  # by hand: always

    def broken(*_args: object) -> bool:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(job, "missed_run", broken)
    with pytest.raises(RuntimeError, match="went away"):
        job.run(trigger="schedule", today=SATURDAY, once=True)
    assert not job.is_running()  # the lock was given back


def test_a_lock_lost_with_its_connection_is_logged_and_giving_it_back_never_raises(
    postgres, database, monkeypatch, caplog
):
    monkeypatch.setattr("app.jobs.lock.WATCH_SECONDS", 0.1)
    lock = DatabaseJobLock(database.engine)
    assert lock.take(what=DAILY_JOB)
    with database.engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = :key AND granted"
            ),
            {"key": ADVISORY_KEY},
        )
        admin.commit()
    deadline = time.monotonic() + 10
    while lock.lost is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock.lost is not None
    assert "the job's database lock was lost while the daily job" in caplog.text
    lock.give()  # the connection is gone: no exception, and the thread lock is free again
    assert lock.take(wait=1, what="the next job")
    lock.give()


def _wait_for(url: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code in (200, 503):
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not start"
        time.sleep(0.3)


def test_serve_workers_and_a_worker_a_retrain_on_the_page_is_rescored_by_the_worker(
    postgres, sessions, holder, tmp_path
):
    """`arxiv-reco serve --workers 2` and `arxiv-reco worker`, as the lab profile runs them: a
    retrain started through the web side is activated there and the worker, which looks for
    activations, re-scores the stored days with it; SIGTERM ends the worker. About 15 s: three
    processes start, and a retrain and its re-scoring run."""
    from app.jobs.ingest import ingest_day
    from app.store.labels import set_label

    day = dt.date(2025, 3, 19)
    assert ingest_day(sessions, day, postgres).status == "success"
    with session_scope(sessions) as session:
        ids = session.scalars(select(Paper.id).where(Paper.submitted_on == day)).all()
        for paper_id in ids[:3]:
            set_label(session, paper_id=paper_id, interest=1, source="web")
    port = free_port()
    data = tmp_path / "lab-data"  # one volume for the web side and the worker, as in compose
    common = {"ARXIV_RECO_WORKER_POLL_SECONDS": "0.5", "ARXIV_RECO_RETRAIN_METHOD": "tfidf"}
    web = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=_environment(postgres, data, **common),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=_environment(postgres, data, **common),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, time.monotonic() + 90)
        # The worker's own threads run at the background niceness (the default, 10), as its
        # children do: all it does is background work beside the web processes.
        deadline = time.monotonic() + 60
        while os.getpriority(os.PRIO_PROCESS, worker.pid) != 10:
            assert time.monotonic() < deadline, "the worker runs at the web processes' priority"
            time.sleep(0.2)
        assert os.getpriority(os.PRIO_PROCESS, web.pid) == os.getpriority(os.PRIO_PROCESS, 0)
        started = httpx.post(f"{url}/retrain", timeout=30)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while True:
            answer = httpx.get(f"{url}/recommendations", params={"date": str(day)}, timeout=30)
            body = answer.json() if answer.status_code == 200 else {}
            if body.get("model") and not body["pending"] and not body["rescoring"]:
                break
            assert time.monotonic() < deadline, (answer.status_code, body)
            time.sleep(0.5)
        assert body["total_papers"] == len(ids) and body["model"]["method"] == "tfidf"
    finally:
        web.terminate()
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0]
        web.wait(timeout=30)
    assert worker.returncode == 0, output
    assert f"worker {worker.pid} running the jobs" in output
    assert f"scored {len(ids)}/{len(ids)}" in output  # the worker re-scored the day


def test_a_cancel_from_another_host_stops_the_workers_ingestion(postgres, database, standin):
    """``DELETE /ingest`` on a web process whose data directory is not the worker's: the
    cancel is stamped where the lock is, in the database, and the worker's job child reads it
    there. Nothing of it is left for the next job."""
    from app.jobs.scheduler import DailyJob

    worker_settings = postgres.model_copy(update={"data_dir": postgres.data_dir / "worker"})
    web_settings = postgres.model_copy(update={"data_dir": postgres.data_dir / "web"})
    worker = DailyJob(database.sessions, worker_settings, None, isolated=True)
    web = DailyJob(database.sessions, web_settings, None)
    assert not web.cancel()  # nothing runs
    standin.inject("timeout")  # the first day's request hangs a while: time to cancel
    assert worker.start_range(dt.date(2025, 3, 17), dt.date(2025, 3, 21), trigger="api")
    deadline = time.monotonic() + 60
    while not _days(database):  # the first day has begun, in the worker's job child
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert web.cancel()
    while worker.is_running():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _days(database) == [dt.date(2025, 3, 17)]  # the day it was on, then no more
    assert list(web_settings.data_dir.iterdir()) == []  # no file: another host would not see it
    # A cancel is for the running job only: the next one runs every day.
    assert worker.run_range(dt.date(2025, 3, 18), dt.date(2025, 3, 19), trigger="api")
    assert _days(database) == [dt.date(2025, 3, d) for d in (17, 18, 19)]


def _days(database) -> list[dt.date]:
    with database.sessions() as session:
        return list(session.scalars(select(IngestRun.day).order_by(IngestRun.day)))
