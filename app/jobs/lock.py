"""The one lock every job takes: never two ingestions, re-scorings or retrains at once, in this
process or another that shares the data.

Two locks taken together: a thread lock (another thread of this one) and one that other
processes see. On SQLite that is a file lock in the data directory (a CLI backfill, a second
server on this host); on PostgreSQL it is the database's (an advisory lock, held on a connection
of its own), which every host sharing the database sees, and which a dead worker's connection
releases with it (``job_lock``). Whoever takes it for a job records what it is, its process and
since when, so that a refusal can name what runs. A cancel of the running ingestion goes where
its lock is: a file beside the file lock, a stamp on the lock holder's row in the database
(``cancel_flag``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import session_scope, unpooled_connection
from app.store.schema import JobLockHolder

logger = logging.getLogger(__name__)

# How long a job about to start waits for the lock, so that a probe (is_running, from /health
# or a CLI) holding it for an instant never makes it skip.
PROBE_GRACE_SECONDS = 2.0

# What holds the job's one lock, in the words a refusal names it by (DailyJob.lock_holder).
DAILY_JOB = "the daily job (the ingestion, then the nightly retrain)"
RESCORING = "the re-scoring of the stored days with a new model"
PAGE_RETRAIN = "a retrain started on the page"
CLI_RETRAIN = "a retrain started from the command line"
ONBOARDING_RETRAIN = "the onboarding's retrain"
TOPIC_DELETION = "the deletion of a topic"
READER_REMOVAL = "the removal of a reader"
RETRAINS = (PAGE_RETRAIN, CLI_RETRAIN, ONBOARDING_RETRAIN)
# The daily job waits this long for a retrain that holds the lock (it is bounded, and the day
# should not be skipped for it); beside another ingestion it is skipped at once.
JOB_WAITS_FOR_RETRAIN_SECONDS = 2 * 3600.0


@dataclass(frozen=True)
class LockHolder:
    """What holds the job's lock, as its taker recorded it (``DailyJob.lock_holder``)."""

    what: str
    pid: int | None = None
    since: dt.datetime | None = None
    host: str | None = None  # the holder's host, when it is another than this one

    def describe(self, *, process: bool = True) -> str:
        """``what (process 12, since 2025-03-19 02:00 UTC)``; ``process=False`` for a page."""
        where = f" on {self.host}" if self.host else ""
        details = [f"process {self.pid}{where}"] if process and self.pid is not None else []
        if self.since is not None:
            details.append(f"since {self.since:%Y-%m-%d %H:%M} UTC")
        return self.what + (f" ({', '.join(details)})" if details else "")

    def __str__(self) -> str:
        return self.describe()


UNKNOWN_HOLDER = LockHolder("another job (an ingestion, a re-scoring or a retrain)")


class JobBusy(RuntimeError):
    """The job's one lock is held: an ingestion, a re-scoring or a retrain runs, in this process
    or another. The message names what holds it."""

    def __init__(self, holder: LockHolder):
        super().__init__(f"{holder} is running")
        self.holder = holder

    def plain(self) -> str:
        """The message for a page: what holds the lock and since when, no process id."""
        return f"{self.holder.describe(process=False)} is running"


class JobLock:
    """The job's lock on ``data_dir`` (``ingest.lock``) and the record of what holds it."""

    def __init__(self, data_dir: str | Path):
        # The file lock is shared by this object's threads (not thread-local), so the thread
        # that takes it may hand it to the thread that runs the job.
        self.file = FileLock(str(Path(data_dir) / "ingest.lock"), thread_local=False)
        self.holder_file = Path(data_dir) / "ingest.lock.holder"
        self._in_process = threading.Lock()

    def take(self, wait: float = 0, what: str | None = None) -> bool:
        """Take both locks at once, or neither, waiting up to ``wait`` seconds; False when a job
        runs here or elsewhere. ``what`` is recorded for a refusal to name (a probe, which
        holds the lock for an instant, records nothing)."""
        if not self._in_process.acquire(timeout=wait if wait > 0 else -1, blocking=wait > 0):
            return False
        try:
            self.file.acquire(timeout=wait)
        except Timeout:
            self._in_process.release()
            return False
        if what is not None:
            since = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            record = {"what": what, "pid": os.getpid(), "since": since}
            try:
                self.holder_file.write_text(json.dumps(record) + "\n", encoding="utf-8")
            except OSError as err:  # only a refusal's wording depends on it
                logger.warning("cannot record what holds the job's lock: %s", err)
        return True

    def give(self) -> None:
        self.holder_file.unlink(missing_ok=True)
        self.file.release()
        self._in_process.release()

    def holder(self) -> LockHolder:
        """What holds the lock, its process and since when, as its taker recorded it."""
        try:
            record = json.loads(self.holder_file.read_text(encoding="utf-8"))
            return LockHolder(
                str(record["what"]), int(record["pid"]), dt.datetime.fromisoformat(record["since"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            return UNKNOWN_HOLDER


# The advisory lock's key: one per database, whatever its schema ("arxi" in ASCII).
ADVISORY_KEY = 0x61727869
HOLDER_ROW = 1
POLL_SECONDS = 0.1
WATCH_SECONDS = 30.0


class DatabaseJobLock:
    """The job's lock as PostgreSQL's session-level advisory lock, held on a connection outside
    the pool: every process on every host that shares the database sees it, and it is released
    when the connection closes, a dead worker's included (TCP keepalives notice a dead host in
    about a minute). ``job_lock_holder`` records what holds it. A watchdog asks the connection
    every ``WATCH_SECONDS`` while the lock is held: a lock lost with its connection (the server
    restarted, the backend terminated) is logged as an error, since another process may then
    start a job. Session advisory locks need a direct connection or a pooler in session mode
    (PgBouncer's transaction mode cannot keep them). The same interface as ``JobLock``."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._holding: Connection | None = None
        self._what: str | None = None
        self._in_process = threading.Lock()
        self._using = threading.Lock()  # the held connection: the watchdog or give()
        self._stop_watch = threading.Event()
        self.lost: str | None = None  # why the held lock was lost, while it is held

    def take(self, wait: float = 0, what: str | None = None) -> bool:
        if not self._in_process.acquire(timeout=wait if wait > 0 else -1, blocking=wait > 0):
            return False
        deadline = time.monotonic() + max(wait, 0)
        try:
            connection = unpooled_connection(self.engine)
        except Exception:
            self._in_process.release()
            raise
        try:
            while not connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ):
                connection.commit()  # no transaction left open while waiting
                left = deadline - time.monotonic()
                if left <= 0:
                    connection.close()
                    self._in_process.release()
                    return False
                time.sleep(min(POLL_SECONDS, left))
            if what is not None:
                self._record(connection, what)
            connection.commit()
        except BaseException:
            connection.close()  # and with it the lock, if it was taken
            self._in_process.release()
            raise
        self._holding, self._what, self.lost = connection, what, None
        if what is not None:  # a job, not a probe of an instant
            self._stop_watch = threading.Event()
            threading.Thread(
                target=self._watch,
                args=(connection, self._stop_watch),
                name="job-lock-watchdog",
                daemon=True,
            ).start()
        return True

    def _record(self, connection: Connection, what: str) -> None:
        connection.execute(delete(JobLockHolder))
        connection.execute(
            insert(JobLockHolder).values(
                id=HOLDER_ROW,
                what=what,
                pid=os.getpid(),
                host=socket.gethostname(),
                since=dt.datetime.now(dt.timezone.utc),
            )
        )

    def _watch(self, connection: Connection, stop: threading.Event) -> None:
        while not stop.wait(WATCH_SECONDS):
            with self._using:
                if stop.is_set():
                    return
                try:
                    connection.scalar(text("SELECT 1"))
                    connection.commit()
                except Exception as err:
                    self.lost = f"{type(err).__name__}: {err}"
                    logger.error(
                        "the job's database lock was lost while %s ran (%s): another process "
                        "may start a job beside it",
                        self._what,
                        self.lost,
                    )
                    return

    def give(self) -> None:
        """Release the lock; never raises for a connection that is already gone (its lock went
        with it), so a job's own outcome is never hidden by it."""
        connection, self._holding = self._holding, None
        self._stop_watch.set()
        try:
            if connection is not None:
                with self._using:
                    try:
                        connection.execute(delete(JobLockHolder))
                        released = connection.scalar(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                        )
                        connection.commit()
                        if not released:
                            logger.warning(
                                "the job's database lock was not held when %s gave it back",
                                self._what,
                            )
                    except Exception as err:
                        logger.warning(
                            "the job's database lock could not be given back (%s); it went "
                            "with its connection",
                            err,
                        )
                    finally:
                        connection.close()
        finally:
            self._what = None
            self._in_process.release()

    def holder(self) -> LockHolder:
        try:
            with self.engine.connect() as connection:
                held = connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND classid = 0 AND objid = :key AND objsubid = 1 AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"key": ADVISORY_KEY},
                )
                row = connection.execute(select(JobLockHolder)).first() if held else None
        except Exception as err:  # only a refusal's wording depends on it
            logger.warning("cannot read what holds the job's lock: %s", err)
            return UNKNOWN_HOLDER
        if row is None:
            return UNKNOWN_HOLDER
        here = socket.gethostname()
        since = row.since if row.since.tzinfo else row.since.replace(tzinfo=dt.timezone.utc)
        return LockHolder(row.what, row.pid, since, None if row.host == here else row.host)


def job_lock(
    data_dir: str | Path, sessions: sessionmaker | None = None
) -> JobLock | DatabaseJobLock:  # type: ignore[type-arg]
    """The database's lock on PostgreSQL (every host sharing it sees it), the data directory's
    file lock otherwise."""
    if sessions is not None and (engine := _postgresql(sessions)) is not None:
        return DatabaseJobLock(engine)
    return JobLock(data_dir)


def _postgresql(sessions: sessionmaker[Session]) -> Engine | None:
    engine = sessions.kw.get("bind")
    return engine if isinstance(engine, Engine) and engine.dialect.name == "postgresql" else None


@dataclass(frozen=True)
class CancelFlag:
    """A request to stop a running ingestion after the day it is on: a file beside the job's
    file lock, so that it reaches a child process or another command (a CLI backfill) too."""

    path: Path

    def request(self) -> None:
        self.path.touch()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __call__(self) -> bool:
        return self.path.exists()


class DatabaseCancelFlag:
    """The cancel where the job's lock is the database's: stamped on ``job_lock_holder``'s row,
    which the job's taker wrote and which goes with the lock, so that a web process on one host
    stops the worker's ingestion on another, and no cancel outlives its job."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def request(self) -> None:
        with session_scope(self.sessions) as session:
            session.execute(
                update(JobLockHolder)
                .where(JobLockHolder.id == HOLDER_ROW)
                .values(cancel_requested=dt.datetime.now(dt.timezone.utc))
            )

    def clear(self) -> None:
        """Nothing to do: each taker writes the row anew and giving the lock deletes it, so a
        cancel never reaches the next job (and clearing never fails beside a lost database)."""

    def __call__(self) -> bool:
        with self.sessions() as session:
            stamp = session.scalar(
                select(JobLockHolder.cancel_requested).where(JobLockHolder.id == HOLDER_ROW)
            )
        return stamp is not None


def cancel_flag(
    data_dir: str | Path, sessions: sessionmaker[Session]
) -> CancelFlag | DatabaseCancelFlag:
    """Where a cancel of the running ingestion is asked and seen: beside the job's lock
    (``job_lock``), in the database on PostgreSQL, in the data directory otherwise."""
    if _postgresql(sessions) is not None:
        return DatabaseCancelFlag(sessions)
    return CancelFlag(Path(data_dir) / "ingest.cancel")
