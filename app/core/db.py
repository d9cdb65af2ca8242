"""The one data layer: a :class:`Database` (engine, sessions, migrations) per process.

Every entry point (the service, each CLI command, the job's child process, the demo, tests and
benchmarks) makes one and hands its sessions down; nothing else builds an engine. Any SQLAlchemy
URL works; SQLite (the default, WAL mode, foreign keys on) and PostgreSQL are tested.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.core.private_files import create_private_file, private_directory, private_file

logger = logging.getLogger(__name__)

# The migrations' folder, found without importing them: migrations/env.py imports this module
# (the engine and the schema), never the other way round.
_MIGRATIONS = importlib.util.find_spec("migrations")
if _MIGRATIONS is None or not _MIGRATIONS.submodule_search_locations:
    raise ImportError("the migrations package is not installed beside app")
MIGRATIONS_DIR = Path(next(iter(_MIGRATIONS.submodule_search_locations)))
CREATED_SUFFIX = ".created"
# SQLite's companions of a database file, as private as the file itself.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal", CREATED_SUFFIX)


class DatabaseMissing(RuntimeError):
    """A SQLite database this data directory had is gone; it is not silently made anew."""


class DatabaseGone(RuntimeError):
    """The SQLite file this process opened was deleted or replaced under it: writes would go to
    a file no one can open again, so they are refused."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (absolute), None for other backends and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().absolute()


def check_not_lost(path: Path) -> None:
    """DatabaseMissing when ``path`` is gone but its record of creation is still beside it:
    the file was deleted or moved, and an empty new one would hide that the labels are lost."""
    marker = path.with_name(path.name + CREATED_SUFFIX)
    if path.exists() or not marker.exists():
        return
    try:
        created = json.loads(marker.read_text(encoding="utf-8")).get("created_at", "?")
    except (OSError, ValueError):
        created = "?"
    raise DatabaseMissing(
        f"the database {path} (created {created}) is gone; nothing was made in its place. "
        f"Restore a backup (README, 'Backups'; `arxiv-reco backup` writes them to "
        f"{path.parent / 'backups'}), or delete {marker} to start with an empty database"
    )


def _record_creation(path: Path) -> None:
    marker = path.with_name(path.name + CREATED_SUFFIX)
    if path.exists() and not marker.exists():
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        create_private_file(marker)
        marker.write_text(json.dumps({"database": path.name, "created_at": stamp}) + "\n")


def private_database(path: Path) -> None:
    """The SQLite file and its companions for the owner only (``app.core.private_files``): a
    new one is made empty with that mode before SQLite opens it, whose -wal and -shm files then
    take the same; files of an older database are closed to others."""
    private_directory(path.parent)
    create_private_file(path)
    for suffix in SQLITE_COMPANIONS:
        private_file(path.with_name(path.name + suffix))


class Database:
    """Engine, session factory and migrations for one database URL, made once per process.

    ``migrate=True`` brings the schema to the newest revision first (``alembic upgrade head``),
    as every entry point that may meet a new or older database does.
    """

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.path = sqlite_file(url)
        if self.path is not None:
            check_not_lost(self.path)
            private_database(self.path)
        if migrate:
            self.migrate()
        self.engine = make_engine(url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self._file_id: tuple[int, int] | None = None
        if self.path is not None:
            if self.path.exists():
                _record_creation(self.path)
                self._file_id = self._current_file_id()
            event.listen(self.sessions, "before_commit", lambda _session: self.check_file())

    def _current_file_id(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (stat.st_dev, stat.st_ino)

    def check_file(self) -> None:
        """DatabaseGone when the SQLite file opened at start was deleted or replaced since (a
        commit would succeed into the deleted file and be lost at the next start)."""
        if self.path is None:
            return
        now = self._current_file_id()
        if self._file_id is None:  # opened without migrating; the first connection made it
            self._file_id = now
            if now is not None:
                _record_creation(self.path)
            return
        if now != self._file_id:
            what = "deleted" if now is None else "replaced"
            raise DatabaseGone(
                f"the database file {self.path} was {what} while the service ran; nothing more "
                "is written. Restore it (README, 'Backups') and restart the service"
            )

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql``, ...: the SQLAlchemy backend name."""
        return make_url(self.url).get_backend_name()

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def migrate(self) -> None:
        migrate(self.url)

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work: commit on success, roll back on any error."""
        return session_scope(self.sessions)

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query, or its file is gone."""
        self.check_file()
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    options: dict[str, Any] = {}
    if parsed.get_backend_name() != "sqlite":
        # The API's worker threads, the scheduler and retrain share the pool.
        options = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # One connection per API worker thread (40 by default) and the scheduler's, so that
            # requests do not queue for a connection; SQLite connections are cheap.
            options = {"pool_size": 20, "max_overflow": 30}
        # The API's worker threads and the scheduler thread share the engine.
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **options)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_UNPOOLED: dict[str, Engine] = {}
_UNPOOLED_LOCK = threading.Lock()


def unpooled_connection(engine: Engine) -> Connection:
    """A connection of its own, outside ``engine``'s pool, closed (never pooled) when the caller
    closes it: a session-level lock held on it (PostgreSQL's advisory lock) dies with it, and
    with the process, never left behind on a pooled connection."""
    key = engine.url.render_as_string(hide_password=False)
    with _UNPOOLED_LOCK:
        unpooled = _UNPOOLED.get(key)
        if unpooled is None:
            # PostgreSQL: give up on a server that does not answer, and notice a dead peer in
            # about a minute (TCP keepalives), not the system's two hours.
            options: dict[str, Any] = (
                {
                    "connect_args": {
                        "connect_timeout": 10,
                        "keepalives": 1,
                        "keepalives_idle": 30,
                        "keepalives_interval": 10,
                        "keepalives_count": 3,
                    }
                }
                if engine.dialect.name == "postgresql"
                else {}
            )
            unpooled = _UNPOOLED[key] = create_engine(engine.url, poolclass=NullPool, **options)
    return unpooled.connect()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database to the newest schema (``alembic upgrade head``); each revision applied
    logs a line (migrations/env.py), an up-to-date database none."""
    logger.debug("migrating database %s", make_url(url).render_as_string(hide_password=True))
    command.upgrade(alembic_config(url), "head")
