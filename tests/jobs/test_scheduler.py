from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from app.core.db import session_scope
from app.jobs.lock import UNKNOWN_HOLDER
from app.jobs.scheduler import DailyJob, lookback_days, previous_fire_time, start_scheduler
from app.store.schema import IngestRun, JobLockHolder, Paper, Score
from tests.factories import activate_model_dir
from tests.processes import job_lock_held_elsewhere

MONDAY = dt.date(2025, 3, 24)


def test_lookback_covers_the_days_before_today_oldest_first(settings):
    assert lookback_days(settings, MONDAY) == [
        dt.date(2025, 3, 21),
        dt.date(2025, 3, 22),
        dt.date(2025, 3, 23),
    ]


def test_the_daily_job_ingests_the_last_days(sessions, settings, holder, standin):
    reports = DailyJob(sessions, settings, holder).run(trigger="schedule", today=MONDAY)
    assert [r.day for r in reports] == lookback_days(settings, MONDAY)
    assert all(r.status == "success" for r in reports)
    friday = {e.id for e in standin.catalog.on_day(dt.date(2025, 3, 21), settings.categories)}
    assert reports[0].new == len(friday) and reports[1].fetched == reports[2].fetched == 0
    with sessions() as session:
        assert session.scalar(select(func.count(Paper.id))) == len(friday)


def test_the_service_runs_the_job_in_a_niced_child_process_that_scores(
    sessions, settings, holder, standin, tiny_model_dir
):
    activate_model_dir(sessions, tiny_model_dir)
    job = DailyJob(sessions, settings, holder, isolated=True)
    reports = job.run(trigger="schedule", today=MONDAY)
    friday = {e.id for e in standin.catalog.on_day(dt.date(2025, 3, 21), settings.categories)}
    assert [r.status for r in reports] == ["success"] * 3
    assert reports[0].new == reports[0].scored == len(friday)
    with sessions() as session:
        runs = session.scalars(select(IngestRun)).all()
        assert {r.status for r in runs} == {"success"} and len(runs) == 3
        assert session.scalar(select(func.count(Score.id))) == len(friday)
    assert not job.is_running()
    # The child did the work: this process never loaded the model.
    assert holder._loaded is None


def test_never_two_runs_at_once(sessions, settings, holder, standin):
    with job_lock_held_elsewhere(settings, sessions):
        assert DailyJob(sessions, settings, holder).run(today=MONDAY) == []
    assert standin.requests == []


def test_a_missed_run_is_detected_and_a_successful_one_clears_it(sessions, settings, holder):
    job = DailyJob(sessions, settings, holder)
    now = dt.datetime(2025, 3, 24, 12, 0, tzinfo=dt.timezone.utc)
    assert previous_fire_time(settings, now) == dt.datetime(
        2025, 3, 24, 1, 30, tzinfo=dt.timezone.utc
    )
    assert job.missed_run(now)
    with session_scope(sessions) as session:
        session.add(
            IngestRun(
                day=dt.date(2025, 3, 23),
                trigger="schedule",
                status="success",
                started_at=dt.datetime(2025, 3, 24, 1, 30, 5, tzinfo=dt.timezone.utc),
            )
        )
    assert not job.missed_run(now)
    assert job.missed_run(now + dt.timedelta(days=1))


def test_the_scheduler_catches_up_a_missed_run_at_start(sessions, settings, holder, standin):
    job = DailyJob(sessions, settings, holder)
    scheduler = start_scheduler(job)
    try:
        assert scheduler.get_job("daily-ingest").max_instances == 1
        assert scheduler.get_job("daily-ingest").next_run_time is not None
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while dt.datetime.now() < deadline:
            with sessions() as session:
                runs = session.scalars(select(IngestRun)).all()
            if len(runs) == settings.lookback_days and all(r.finished_at for r in runs):
                break
            time.sleep(0.1)
        assert {r.trigger for r in runs} == {"catch-up"}
        assert all(r.status == "success" for r in runs)
    finally:
        scheduler.shutdown(wait=True)


def test_a_newly_served_model_scores_every_stored_day_newest_first(
    sessions, settings, holder, tiny_model_dir, caplog
):
    from app.jobs.ingest import ingest_day
    from app.store.schema import Score
    from tests.factories import activate_model_dir

    job = DailyJob(sessions, settings, holder)
    days = [dt.date(2025, 3, 19), dt.date(2025, 3, 21)]  # older than the lookback days too
    reports = [ingest_day(sessions, day, settings) for day in days]  # no model: stored only
    assert all(r.fetched > 0 and r.scored == 0 for r in reports)
    assert job.rescore() == 0
    activate_model_dir(sessions, tiny_model_dir)
    assert job.rescore() == sum(r.fetched for r in reports)
    assert job.rescore() == 0  # nothing left to score
    with sessions() as session:
        assert session.scalar(select(func.count(Score.id))) == sum(r.fetched for r in reports)
        # Newest day first: the first committed batch holds the newest day's papers.
        first = session.scalars(select(Score).order_by(Score.id).limit(1)).one()
        assert first.paper.submitted_on == days[-1]


def test_a_rescore_waits_for_a_running_job_and_gives_up_after_its_wait(
    sessions, settings, holder, tiny_model_dir
):
    from app.jobs.ingest import ingest_day
    from tests.factories import activate_model_dir

    ingest_day(sessions, dt.date(2025, 3, 19), settings)  # no model: stored, to be re-scored
    activate_model_dir(sessions, tiny_model_dir)
    job = DailyJob(sessions, settings, holder)
    assert job.lock.take()
    try:
        started = time.monotonic()
        assert job.rescore(wait=0.2) == 0
        assert time.monotonic() - started >= 0.2
    finally:
        job.lock.give()


def test_a_rescore_with_nothing_to_score_starts_no_process_and_waits_for_no_lock(
    sessions, settings, holder, tiny_model_dir, monkeypatch
):
    """What a restarted service does at each topic's first load: ask, not start a child."""
    from app.jobs import scheduler
    from app.jobs.ingest import ingest_day
    from tests.factories import activate_model_dir

    activate_model_dir(sessions, tiny_model_dir)
    report = ingest_day(sessions, dt.date(2025, 3, 19), settings, model=holder.for_scoring)
    assert report.fetched > 0 and report.scored == report.fetched  # scored as they are stored
    job = DailyJob(sessions, settings, holder, isolated=True)

    def no_child(*args, **kwargs):
        raise AssertionError("a child process was started with nothing to score")

    monkeypatch.setattr(scheduler, "in_child_process", no_child)
    assert job.lock.take()  # a job runs: the answer comes at once all the same
    try:
        started = time.monotonic()
        assert job.rescore(wait=30) == 0
        assert time.monotonic() - started < 5
    finally:
        job.lock.give()


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(client, sessions, settings):
    from app.core.db import session_scope
    from app.main import start_services, stop_services

    with session_scope(sessions) as session:
        session.add(IngestRun(day=MONDAY, trigger="schedule", status="running"))
    services = start_services(settings)  # what a restarted service does first
    stop_services(services)
    with sessions() as session:
        run = session.scalars(select(IngestRun)).one()
        assert run.status == "interrupted" and "stopped" in (run.error or "")
    warnings = client.get("/status").json()["warnings"]
    assert any(f"{MONDAY} interrupted" in w for w in warnings)


def test_a_backfill_from_the_cli_waits_for_no_one_and_says_why(sessions, settings, monkeypatch):
    import pytest

    from app.cli import main

    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    job = DailyJob(sessions, settings, holder=None)  # type: ignore[arg-type]
    assert job.lock.take()
    try:
        with pytest.raises(SystemExit, match="nothing ingested: another job .* is already running"):
            main(["ingest", "--date", "2025-03-19"])
    finally:
        job.lock.give()


def nap_in_child(settings, pid_file: str, seconds: float) -> None:
    """A job's body for the test below: say who runs it, then take long."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)


PARENT = """
import sys
from app.core.config import Settings
from app.jobs.child import in_child_process
from tests.jobs.test_scheduler import nap_in_child
in_child_process(Settings(data_dir=sys.argv[1], _env_file=None), nap_in_child, sys.argv[2], 120)
"""


def test_the_jobs_child_process_dies_with_the_service_however_it_ends(tmp_path):
    """A service killed (KILL, out of memory) mid-job leaves no orphan writing beside the
    restarted service's own job."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "data"), str(pid_file)],
        cwd=Path(__file__).parents[2],
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the job's child outlived the service"
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by init; /proc says which.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()


def test_a_lock_probe_at_the_scheduled_instant_does_not_skip_the_daily_run(
    sessions, settings, holder, standin
):
    """/health probes the job's lock for an instant; a run starting then waits for it."""
    job = DailyJob(sessions, settings, holder)
    assert job.lock.take()  # a probe holding the lock as the run fires
    threading.Timer(0.3, job.lock.give).start()
    reports = job.run(trigger="schedule", today=MONDAY)
    assert [r.status for r in reports] == ["success"] * settings.lookback_days


def test_every_retrain_takes_the_jobs_one_lock_and_a_busy_one_names_its_holder(
    sessions, settings, holder, standin, monkeypatch
):
    """Issue 17: a retrain from the page and one from the CLI ran together in two processes
    and each activated its own model. Now every retrain (page, CLI, onboarding, the nightly one
    inside the job) holds the job's one lock while it runs; one that finds it held is refused
    with what holds it, and the daily job waits for a retrain rather than skip its day."""
    import pytest

    import app.cli.models
    import app.jobs.onboarding
    import app.jobs.retrain
    from app.cli import main
    from app.jobs.ingest import ingest_day
    from app.jobs.lock import CLI_RETRAIN, PAGE_RETRAIN, JobBusy
    from app.main import create_app
    from app.store.labels import import_labels_csv
    from tests.conftest import LABELS_CSV
    from tests.factories import local_client

    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setattr("app.jobs.lock.PROBE_GRACE_SECONDS", 0.0)  # refusals at once
    monkeypatch.setattr("app.jobs.scheduler.PROBE_GRACE_SECONDS", 0.0)
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    ingest_day(sessions, dt.date(2025, 3, 19), settings)
    with sessions() as session:
        unlabelled = session.scalar(
            select(Paper.id).where(Paper.submitted_on == dt.date(2025, 3, 19)).limit(1)
        )
    elsewhere = DailyJob(sessions, settings, holder)  # another process's job, on the same file
    held_while_retraining: list[str] = []

    def spy(real):
        def retrain(*args, **kwargs):
            held_while_retraining.append(elsewhere.lock_holder().what)
            with pytest.raises(JobBusy):
                elsewhere.hold(CLI_RETRAIN)
            return real(*args, **kwargs)

        return retrain

    monkeypatch.setattr(app.jobs.retrain, "retrain", spy(app.jobs.retrain.retrain))
    monkeypatch.setattr(app.jobs.onboarding, "retrain", spy(app.jobs.onboarding.retrain))
    monkeypatch.setattr(app.cli.models, "retrain", spy(app.cli.models.retrain))
    with local_client(create_app(settings)) as client:
        job = client.app.state.services.job

        # A retrain from the command line holds the lock: the page's, the onboarding's and a
        # backfill are refused, each naming it.
        with elsewhere.held(CLI_RETRAIN):
            refused = client.post("/retrain")
            assert refused.status_code == 409
            assert re.fullmatch(
                r"A retrain started from the command line \(since "
                r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\) is running; retrain when it is done\.",
                refused.json()["detail"],
            )
            answered = client.post(
                "/onboarding/answers", json=[{"paper_id": unlabelled, "interest": 1}]
            ).json()["retrain"]
            assert answered["status"] == "failed"
            assert answered["message"].startswith(
                "Your answers are saved; a retrain started from the command line (since "
            )
            busy = client.post("/ingest", params={"date": "2025-03-20"})
            assert (
                busy.status_code == 409
                and "a retrain started from the command line" in (busy.json()["detail"])
            )
        assert held_while_retraining == []

        # The page's retrain holds it from the request until its thread ends; meanwhile the
        # command line's is refused, naming it and its process.
        assert client.post("/retrain").status_code == 202
        with job.held(PAGE_RETRAIN, wait=60):  # taken once the page's retrain gave it back
            assert held_while_retraining == [PAGE_RETRAIN]
            assert client.get("/retrain").json()["state"] == "done"
            with pytest.raises(
                SystemExit,
                match=rf"not retrained: a retrain started on the page \(process {os.getpid()}, "
                r"since .* UTC\) is running \(the service's or another command's\); retrain "
                r"again when it is done",
            ):
                main(["retrain"])

        # The command line's and the onboarding's retrains hold it too; afterwards it is free.
        assert main(["retrain"]) == 0
        assert held_while_retraining == [PAGE_RETRAIN, CLI_RETRAIN]
        answered = client.post(
            "/onboarding/answers", json=[{"paper_id": unlabelled, "interest": 0}]
        ).json()["retrain"]
        assert answered["status"] in ("activated", "kept")
        assert held_while_retraining[-1] == "the onboarding's retrain"
        # The new model's re-scoring of the stored days takes the lock next, then gives it back.
        deadline = time.monotonic() + 60
        while job.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not job.is_running() and job.lock.holder() == UNKNOWN_HOLDER
        with sessions() as session:  # the record of what held it is gone too
            assert session.scalars(select(JobLockHolder)).all() == []


def test_the_daily_job_waits_for_a_retrain_but_not_for_another_ingestion(
    sessions, settings, holder, standin, monkeypatch
):
    from app.jobs.lock import PAGE_RETRAIN

    monkeypatch.setattr("app.jobs.lock.PROBE_GRACE_SECONDS", 0.0)
    monkeypatch.setattr("app.jobs.scheduler.PROBE_GRACE_SECONDS", 0.0)
    elsewhere = DailyJob(sessions, settings, holder)
    elsewhere.hold(PAGE_RETRAIN)
    threading.Timer(0.5, elsewhere.release).start()
    reports = DailyJob(sessions, settings, holder).run(trigger="schedule", today=MONDAY)
    assert [r.status for r in reports] == ["success"] * 3
    with job_lock_held_elsewhere(settings, sessions):  # an ingestion in another process
        assert DailyJob(sessions, settings, holder).run(trigger="schedule", today=MONDAY) == []


def test_the_page_retrain_fits_in_the_job_child_process_and_frees_the_lock(
    sessions, settings, holder, monkeypatch
):
    """Fitting in a thread of the web process held the interpreter lock from the requests
    (bench/load.py, retrain part); where jobs run in a child process, so does the page's retrain."""
    import app.jobs.retrain
    from app.jobs.scheduler import LockedRetrainRunner
    from app.serving.registry import active_model
    from app.store.labels import import_labels_csv
    from tests.conftest import LABELS_CSV

    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)

    def not_here(*args, **kwargs):
        raise AssertionError("the retrain ran in the web process")

    # The child is a fresh interpreter (spawn): it runs the real retrain, this process cannot.
    monkeypatch.setattr(app.jobs.retrain, "retrain", not_here)
    monkeypatch.setattr("app.jobs.scheduler.retrain", not_here)
    job = DailyJob(sessions, settings, holder, isolated=True)
    runner = LockedRetrainRunner(sessions, settings, job)
    assert runner.start()
    deadline = time.monotonic() + 240
    while runner.state["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runner.state["state"] == "done", runner.state
    assert runner.state["activated"]
    with sessions() as session:
        assert active_model(session).id == runner.state["outcome"]["version_id"]
    assert not job.is_running()  # the lock is free again


def test_a_job_child_whose_parent_ended_while_it_started_exits(tmp_path):
    """The parent's pid comes from the parent: a child that asked getppid() after its parent
    was gone watched the reaper (pid 1) and was kept forever, idle (seen after a restart)."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; from app.jobs.child import _child_setup; "
            f"_child_setup(0, 'WARNING', {gone.pid}); time.sleep(30)",
        ],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=25,
    )
    assert child.returncode == 1
    assert f"the service process {gone.pid} is gone" in child.stderr
