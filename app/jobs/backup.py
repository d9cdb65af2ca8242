"""Backups of a SQLite database, taken while the service runs, rotated.

Each backup is two files in the backup directory, named by the UTC time it was taken:

* ``arxiv_reco-<stamp>.db``: the whole database through SQLite's online backup API (a
  consistent copy even while the service writes; checked with ``PRAGMA quick_check``);
* ``labels-<stamp>.csv``: every label in the training CSV layout, readable without the service
  and importable anywhere with ``arxiv-reco labels import``.

Restore (README, "Backups"): stop the service, copy a ``.db`` back as ``arxiv_reco.db`` (remove
the old ``-wal`` and ``-shm`` files beside it), start the service.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import sqlite_file
from app.core.private_files import create_private_file, private_directory, private_file
from app.store.labels import labels_csv_text

logger = logging.getLogger(__name__)

DATABASE_PREFIX, LABELS_PREFIX = "arxiv_reco-", "labels-"


class BackupError(RuntimeError):
    """A backup that could not be taken; the message says why."""


@dataclass(frozen=True)
class Backup:
    database: Path
    labels: Path
    removed: tuple[Path, ...]


def backup_dir(settings: Settings) -> Path:
    return settings.backup_dir or settings.data_dir / "backups"


def take_backup(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    directory: Path | None = None,
    keep: int | None = None,
    now: dt.datetime | None = None,
) -> Backup:
    """Copy the database and write the labels CSV into ``directory``, then keep only the newest
    ``keep`` backups there (None: ``settings.backup_keep``; 0: keep all)."""
    source = sqlite_file(settings.resolved_database_url)
    if source is None:
        raise BackupError(
            "backups cover SQLite databases; back up a PostgreSQL database with pg_dump "
            "(`arxiv-reco labels export FILE` still writes the labels)"
        )
    if not source.exists():
        raise BackupError(f"there is no database at {source} to back up")
    directory = (directory or backup_dir(settings)).absolute()
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    database = directory / f"{DATABASE_PREFIX}{stamp}.db"
    labels = directory / f"{LABELS_PREFIX}{stamp}.csv"
    partial = database.with_suffix(".db.partial")
    try:
        # Copies of the reader's data, as private as the database (app.core.private_files).
        # (one in the data directory is ours to close; one elsewhere only when made here)
        private_directory(
            directory, close_existing=directory.parent == settings.data_dir.absolute()
        )
        partial.unlink(missing_ok=True)  # left by a backup that was stopped
        create_private_file(partial)
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)
            (verdict,) = dst.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise BackupError(f"the copy of {source} failed its check: {verdict}")
        with sessions() as session:
            # The first reader's every topic, each row naming its topic (the copy of the
            # database holds every reader's).
            text = labels_csv_text(session, None)
        labels_partial = labels.with_suffix(".csv.partial")
        create_private_file(labels_partial)
        labels_partial.write_text(text, encoding="utf-8")
        os.replace(partial, database)
        os.replace(labels_partial, labels)
    except (OSError, sqlite3.Error) as err:
        partial.unlink(missing_ok=True)
        labels.with_suffix(".csv.partial").unlink(missing_ok=True)
        raise BackupError(f"backup into {directory} failed: {err}") from err
    keep = settings.backup_keep if keep is None else keep
    removed = rotate(directory, keep) if keep > 0 else ()
    for kept in (*directory.glob(f"{DATABASE_PREFIX}*.db"), *directory.glob(f"{LABELS_PREFIX}*")):
        private_file(kept)  # taken before backups were made private
    logger.info("backed up %s to %s (and the labels to %s)", source, database, labels.name)
    return Backup(database=database, labels=labels, removed=removed)


def rotate(directory: Path, keep: int) -> tuple[Path, ...]:
    """Delete all but the newest ``keep`` backups (database and labels alike)."""
    removed: list[Path] = []
    for prefix, suffix in ((DATABASE_PREFIX, ".db"), (LABELS_PREFIX, ".csv")):
        backups = sorted(directory.glob(f"{prefix}*{suffix}"), reverse=True)  # stamps sort
        for old in backups[keep:]:
            old.unlink(missing_ok=True)
            removed.append(old)
    return tuple(removed)
