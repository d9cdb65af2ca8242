"""The one data layer: a :class:`Database` (engine, sessions, migrations) per process.

Every entry point (the service, each CLI command, the job's child process, the demo, tests and
benchmarks) makes one and hands its sessions down; nothing else builds an engine. Any SQLAlchemy
URL works; SQLite (the default, WAL mode, foreign keys on) and PostgreSQL are tested.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import migrations

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(migrations.__file__).parent


class Database:
    """Engine, session factory and migrations for one database URL, made once per process.

    ``migrate=True`` brings the schema to the newest revision first (``alembic upgrade head``),
    as every entry point that may meet a new or older database does.
    """

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        if migrate:
            self.migrate()
        self.engine = make_engine(url)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)

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
        """Raise if the database cannot answer a trivial query."""
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
