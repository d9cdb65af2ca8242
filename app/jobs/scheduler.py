"""The daily job inside the service process: re-ingest the last N days, then the nightly
retrain and re-scoring, the backup and the digest, one job at a time; and its schedule.

The lock is ``app.jobs.lock``, the child process ``app.jobs.child``, re-scoring
``app.jobs.rescore``, the backup ``app.jobs.backup`` and the email ``app.digest``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import session_scope
from app.core.priority import lower_thread_priority
from app.core.private_files import private_directory
from app.jobs.child import child_state, in_child_process
from app.jobs.ingest import IngestReport, ingest_range
from app.jobs.lock import (
    DAILY_JOB,
    JOB_WAITS_FOR_RETRAIN_SECONDS,
    PAGE_RETRAIN,
    PROBE_GRACE_SECONDS,
    RESCORING,
    RETRAINS,
    JobBusy,
    LockHolder,
    cancel_flag,
    job_lock,
)
from app.jobs.rescore import (
    after_ingestion,
    rescore_in_child,
    rescore_until_current,
    score_other_topics,
)
from app.jobs.retrain import RetrainOutcome, RetrainRunner, retrain
from app.serving.holder import ModelHolder, ModelHolders
from app.serving.registry import active_model
from app.serving.scoring import unscored_exists
from app.store.schema import DEFAULT_TOPIC, DEFAULT_TOPIC_ID, FIRST_READER_ID, IngestRun, RetrainRun

logger = logging.getLogger(__name__)

SCHEDULED_TRIGGERS = ("schedule", "catch-up")
# How long a re-scoring waits for a running job before giving up (the next one re-scores).
RESCORE_WAIT_SECONDS = 3600.0


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def lookback_days(settings: Settings, today: dt.date | None = None) -> list[dt.date]:
    """The last ``lookback_days`` UTC days before today, oldest first: the API lists a paper only
    after its announcement, so recent days are fetched again until they are complete."""
    today = today or utc_today()
    return [today - dt.timedelta(days=n) for n in range(settings.lookback_days, 0, -1)]


class DailyJob:
    """Never two ingestions at once, in this process or another (``app.jobs.lock``); every
    retrain takes the same lock (``hold``/``held``), so that two never activate models side by
    side and none runs beside an ingestion.

    ``isolated`` runs each ingestion and scoring in a child process at the background niceness:
    the service does this, so scoring a day never holds the API's interpreter lock (a thread
    would, between torch operations, and a niced thread holding it stalls every request).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        holder: ModelHolder | None,
        *,
        isolated: bool = False,
        holders: ModelHolders | None = None,
    ):
        self.sessions, self.settings = sessions, settings
        # Every topic's model; ``holder`` is the default topic's (None: made here).
        if holders is not None and holder is not None and holders.default is not holder:
            raise ValueError("the default topic's holder must be the holders' default")
        self.holders = holders or ModelHolders(sessions, settings, default=holder)
        self.isolated = isolated
        private_directory(settings.data_dir)
        self.lock = job_lock(settings.data_dir, sessions)
        self.cancel_flag = cancel_flag(settings.data_dir, sessions)
        self.last_backup_error: str | None = None

    @property
    def holder(self) -> ModelHolder:
        """The default topic's model holder."""
        return self.holders.default

    def run(
        self, trigger: str = "schedule", today: dt.date | None = None, *, once: bool = False
    ) -> list[IngestReport]:
        """The daily job: re-ingest the lookback days, then (when the labels changed) retrain,
        gate, activate and re-score every stored day with the new model. ``once`` (the
        scheduler's runs): not when a scheduled run already succeeded since the last scheduled
        time, as another worker's does when two fire together."""
        days = lookback_days(self.settings, today)
        if not self.lock.take(wait=PROBE_GRACE_SECONDS, what=DAILY_JOB) and not (
            self.lock_holder().what in RETRAINS
            and self.lock.take(wait=JOB_WAITS_FOR_RETRAIN_SECONDS, what=DAILY_JOB)
        ):
            logger.warning("%s is running; %s run skipped", self.lock_holder(), trigger)
            return []
        try:
            done = once and not self.missed_run()
            if not done:
                self.cancel_flag.clear()  # a cancel meant for an earlier job; the lock is ours
        except BaseException:
            self.lock.give()  # never left held by a job that did not start
            raise
        if done:
            self.lock.give()
            logger.info("the daily job of this schedule ran already (another worker); skipped")
            return []
        reports = self._run_taken(days[0], days[-1], trigger=trigger, nightly=True)
        if self.settings.backup_keep > 0:
            self.backup()
        if trigger in SCHEDULED_TRIGGERS:
            self.send_digest()
        return reports

    def send_digest(self) -> None:
        """The daily digest emails (``app.digest``), one per reader with an address, in this
        process, after the ingestion and the nightly retrain; off without ARXIV_RECO_SMTP_HOST.
        A failed send is recorded in the reader's digest state (the first reader's is shown by
        /health) and tried again; it never fails the job."""
        if not self.settings.digest_enabled:
            return
        from app.digest.service import send_every_daily_digest

        try:
            send_every_daily_digest(self.sessions, self.settings, self.holders)
        except Exception:  # the job goes on; a failed send itself is recorded in the state
            logger.exception("the daily digest failed")

    def backup(self) -> None:
        """The nightly backup; a failure is logged and shown by /health until one succeeds."""
        from app.jobs.backup import BackupError, take_backup

        try:
            take_backup(self.settings, self.sessions)
        except BackupError as err:
            logger.error("%s", err)
            self.last_backup_error = str(err)
        except Exception as err:  # the nightly job goes on; /health shows it
            logger.exception("the nightly backup failed")
            self.last_backup_error = f"{type(err).__name__}: {err}"
        else:
            self.last_backup_error = None

    def hold(self, what: str, *, wait: float = 0) -> None:
        """Take the job's one lock for ``what`` (a retrain), waiting up to ``wait`` seconds;
        JobBusy naming what holds it when it stays held. ``release`` gives it back."""
        if not self.lock.take(wait=wait, what=what):
            raise JobBusy(self.lock_holder())

    def release(self) -> None:
        self.lock.give()

    @contextmanager
    def held(self, what: str, *, wait: float = 0) -> Iterator[None]:
        """``hold`` for the block."""
        self.hold(what, wait=wait)
        try:
            yield
        finally:
            self.release()

    def lock_holder(self) -> LockHolder:
        """What holds the job's lock, its process and since when, as its taker recorded it."""
        return self.lock.holder()

    def run_range(self, first: dt.date, last: dt.date, *, trigger: str) -> list[IngestReport]:
        if not self.lock.take(what=_ingestion(first, last)):
            logger.warning("an ingestion is already running; %s run skipped", trigger)
            return []
        self.cancel_flag.clear()
        return self._run_taken(first, last, trigger=trigger)

    def start_range(
        self,
        first: dt.date,
        last: dt.date,
        *,
        trigger: str,
        categories: Sequence[str] | None = None,
    ) -> bool:
        """Run the days in a background thread if no job runs, here or in another process;
        True only when the job was taken and will run. ``categories``: only these (None: the
        followed ones), for a newly followed category's recent days."""
        # A short grace: long enough for a probe, short enough that a request for a running
        # job is answered 409 at once.
        if not self.lock.take(wait=0.25, what=_ingestion(first, last)):
            return False
        self.cancel_flag.clear()  # before the thread starts, so a cancel from now on holds
        threading.Thread(
            target=self._run_taken,
            args=(first, last),
            kwargs={"trigger": trigger, "categories": categories},
            name="ingest",
            daemon=True,
        ).start()
        return True

    def _run_taken(
        self,
        first: dt.date,
        last: dt.date,
        *,
        trigger: str,
        nightly: bool = False,
        categories: Sequence[str] | None = None,
    ) -> list[IngestReport]:
        try:
            if self.isolated:
                return in_child_process(
                    self.settings,
                    _ingest_range_in_child,
                    first,
                    last,
                    trigger=trigger,
                    nightly=nightly,
                    cancellable=True,
                    categories=categories,
                )
            lower_thread_priority(self.settings.background_nice)
            reports = ingest_range(
                self.sessions,
                first,
                last,
                self.settings,
                model=self.holder.for_scoring,
                others=self.holders.others_for_scoring,
                trigger=trigger,
                cancelled=self.cancel_flag,
                categories=categories,
            )
            stopped = self.cancel_flag()  # asked once: on PostgreSQL it is a query
            if nightly and not stopped:
                after_ingestion(self.sessions, self.settings, self.holder, holders=self.holders)
            elif not stopped:
                score_other_topics(self.sessions, self.holders)
            return reports
        finally:
            self.cancel_flag.clear()
            self.lock.give()

    def cancel(self) -> bool:
        """Ask the running ingestion (here, in a child, a CLI backfill on the same data
        directory, or, on PostgreSQL, a worker on any host) to stop after the day it is on;
        False when none runs."""
        if not self.is_running():
            return False
        self.cancel_flag.request()
        logger.warning("cancelling the running ingestion after the day it is on")
        return True

    def sweep_interrupted(self) -> int:
        """Mark runs left ``running`` by a process that died (killed, out of memory, a full
        disk that could not even record the failure) as ``interrupted``. Only while no job holds
        the lock, here or in another process: then nothing is running them."""
        if not self.lock.take():
            return 0
        try:
            return mark_interrupted(self.sessions)
        finally:
            self.lock.give()

    def is_running(self) -> bool:
        """A job runs in this process or in another one on the same data directory. (It takes
        the lock for an instant: a job starting then waits PROBE_GRACE_SECONDS for it.)"""
        if not self.lock.take():
            return True
        self.lock.give()
        return False

    def rescore(
        self, *, wait: float = RESCORE_WAIT_SECONDS, topic_id: int = DEFAULT_TOPIC_ID
    ) -> int:
        """Score every stored day with a topic's newly served model, newest day first, in
        committed batches; until a day is done its list keeps the previous model's scores. Waits
        for a running job (which scores with the new model itself) rather than racing it."""
        holder = self.holders[topic_id]
        if self._scored_already(holder):  # a restart's first load of each topic's model
            return 0
        if not self.lock.take(wait=wait, what=RESCORING):
            logger.warning("re-scoring skipped: a job held the lock for %.0f s", wait)
            return 0
        try:
            if self._scored_already(holder):  # the job that held the lock scored them
                return 0
            if self.isolated:
                return in_child_process(self.settings, rescore_in_child, topic_id=topic_id)
            lower_thread_priority(self.settings.background_nice)
            return rescore_until_current(self.sessions, holder)
        finally:
            self.lock.give()

    def _scored_already(self, holder: ModelHolder) -> bool:
        """No active model, or it has scored every stored paper: nothing to re-score, and no
        child process is started to find that out."""
        with self.sessions() as session:
            active = active_model(session, topic_id=holder.topic_id)
            return active is None or not unscored_exists(session, version_id=active.id)

    def missed_run(self, now: dt.datetime | None = None) -> bool:
        """True when the last scheduled time passed without a successful scheduled run."""
        now = now or dt.datetime.now(dt.timezone.utc)
        previous = previous_fire_time(self.settings, now)
        if previous is None:
            return False
        with self.sessions() as session:
            done = session.scalar(
                select(IngestRun.id)
                .where(
                    IngestRun.trigger.in_(SCHEDULED_TRIGGERS),
                    IngestRun.status == "success",
                    IngestRun.started_at >= previous,
                )
                .limit(1)
            )
        return done is None


def _ingestion(first: dt.date, last: dt.date) -> str:
    return f"an ingestion of {first}" + (f" to {last}" if last != first else "")


class LockedRetrainRunner(RetrainRunner):
    """The page's retrain (``POST /retrain``) under the job's one lock, from the start until
    its thread ends: JobBusy, naming what holds the lock, when an ingestion, a re-scoring or
    another retrain runs, in this process or another."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, job: DailyJob):
        super().__init__(sessions, settings)
        self.job = job

    def start(
        self,
        *,
        topic_id: int = DEFAULT_TOPIC_ID,
        topic: str = DEFAULT_TOPIC,
        reader_id: int = FIRST_READER_ID,
    ) -> bool:
        self.job.hold(PAGE_RETRAIN, wait=0.25)
        try:
            started = super().start(topic_id=topic_id, topic=topic, reader_id=reader_id)
        except BaseException:
            self.job.release()
            raise
        if not started:
            self.job.release()
        return started

    def _fit(self) -> RetrainOutcome:
        # In the job's child process where jobs run there: fitting (TF-IDF's tokenising above
        # all) in a thread of the web process held the interpreter lock from the requests,
        # GET /recommendations p99 185 ms under 50 clients (bench/load.py, retrain part).
        if self.job.isolated:
            return in_child_process(
                self.settings, _retrain_in_child, trigger="page", topic_id=self.topic_id
            )
        return super()._fit()

    def _run(self) -> None:
        try:
            super()._run()
        finally:
            self.job.release()


def _ingest_range_in_child(
    settings: Settings,
    first: dt.date,
    last: dt.date,
    *,
    trigger: str,
    nightly: bool = False,
    cancellable: bool = False,
    categories: Sequence[str] | None = None,
) -> list[IngestReport]:
    """``cancellable``: stops at the job's cancel (``DailyJob.cancel``), which the child reads
    where the parent's is, beside the job's lock."""
    with child_state(settings) as (sessions, holder):
        cancelled = cancel_flag(settings.data_dir, sessions) if cancellable else None
        holders = ModelHolders(sessions, settings, default=holder)
        reports = ingest_range(
            sessions,
            first,
            last,
            settings,
            model=holder.for_scoring,
            others=holders.others_for_scoring,
            trigger=trigger,
            cancelled=cancelled,
            categories=categories,
        )
        stopped = cancelled is not None and cancelled()
        if nightly and not stopped:
            after_ingestion(sessions, settings, holder, holders=holders)
        elif not stopped:
            score_other_topics(sessions, holders)
        return reports


def _retrain_in_child(settings: Settings, *, trigger: str, topic_id: int) -> RetrainOutcome:
    with child_state(settings, topic_id=topic_id) as (sessions, _):
        return retrain(sessions, settings, trigger=trigger, topic_id=topic_id)


INTERRUPTED = (
    "interrupted: the process running it stopped (killed, out of memory, or the disk full) "
    "before it could finish; the next run completes the day"
)


def mark_interrupted(sessions: sessionmaker[Session]) -> int:
    """Called only while no one holds the job's lock: every ingestion and retrain (each runs
    under it) still ``running`` then was left so by a process that died."""
    now = dt.datetime.now(dt.timezone.utc)
    with session_scope(sessions) as session:
        runs = list(session.scalars(select(IngestRun).where(IngestRun.status == "running")))
        retrains = list(session.scalars(select(RetrainRun).where(RetrainRun.status == "running")))
        for run in runs:
            run.status, run.error, run.finished_at = "interrupted", INTERRUPTED, now
        for retrain in retrains:
            retrain.status, retrain.reason, retrain.finished_at = "interrupted", INTERRUPTED, now
    if runs or retrains:
        logger.warning(
            "marked %d ingestion runs and %d retrains left running as interrupted",
            len(runs),
            len(retrains),
        )
    return len(runs) + len(retrains)


def previous_fire_time(settings: Settings, now: dt.datetime) -> dt.datetime | None:
    trigger = settings.cron_trigger()
    cursor = now - dt.timedelta(days=8)
    previous = None
    while True:
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > now:
            return previous
        previous, cursor = fire, fire + dt.timedelta(seconds=1)


def start_scheduler(job: DailyJob) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        job.run,
        trigger=job.settings.cron_trigger(),
        id="daily-ingest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=6 * 3600,
        kwargs={"trigger": "schedule", "once": True},
    )
    if job.missed_run():
        logger.info("the last scheduled ingestion was missed; catching up now")
        scheduler.add_job(
            job.run, id="catch-up", max_instances=1, kwargs={"trigger": "catch-up", "once": True}
        )
    scheduler.start()
    next_run = scheduler.get_job("daily-ingest").next_run_time
    logger.info(
        "daily ingestion scheduled (%s UTC), next at %s", job.settings.schedule_cron, next_run
    )
    return scheduler
