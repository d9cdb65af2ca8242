"""Commands run as a user runs them: in a fresh Python process, which shows what they import."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs.lock import DatabaseJobLock, job_lock

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``python -X importtime *args``: the result, its stderr without the import lines, and the
    names of the modules the process imported. ``env`` is added to this process's environment,
    less its ``ARXIV_RECO_`` settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARXIV_RECO_")}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    result.stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return result, imported


@contextmanager
def job_lock_held_elsewhere(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[None]:
    """The job's one lock held as another process holds it (a CLI backfill, another host's
    worker): the data directory's file lock on SQLite, the database's lock on PostgreSQL (on a
    connection of its own)."""
    lock = job_lock(settings.data_dir, sessions)
    if isinstance(lock, DatabaseJobLock):
        assert lock.take(what="another process's job")
        try:
            yield
        finally:
            lock.give()
    else:
        with FileLock(str(lock.file.lock_file)):
            yield


HOLD_THE_JOB_LOCK = (
    "from app.core.config import Settings; from app.core.db import Database; "
    "from app.jobs.lock import job_lock; import time; settings = Settings(); "
    "lock = job_lock(settings.data_dir, Database(settings.resolved_database_url).sessions); "
    "assert lock.take(what='a backfill from the command line'); "
    "print('held', flush=True); time.sleep(120)"
)


@contextmanager
def job_lock_held_by_another_process(settings: Settings) -> Iterator[subprocess.Popen[str]]:
    """A real process holding the job's one lock, as ``arxiv-reco ingest`` does, until the
    block ends (it is killed: a lock on PostgreSQL dies with its connection)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARXIV_RECO_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        ARXIV_RECO_DATA_DIR=str(settings.data_dir),
        ARXIV_RECO_DATABASE_URL=settings.resolved_database_url,
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_JOB_LOCK],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()
