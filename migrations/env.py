"""Alembic environment: the URL comes from the caller's config or from the app's Settings."""

from __future__ import annotations

import logging
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationInfo
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from app.core.config import get_settings
from app.core.db import make_engine
from app.store.schema import Base

logger = logging.getLogger("migrations")

# PostgreSQL's advisory lock that serialises migrations ("migr" in ASCII).
MIGRATION_LOCK = 0x6D696772

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url


def _log_step(*, step: MigrationInfo, **_: Any) -> None:
    """One line per revision applied; an up-to-date database says nothing (the commands hold
    alembic's own INFO lines back)."""
    revision = step.up_revision
    logger.info(
        "database %s: schema %s -> %s (%s)",
        make_url(_url()).render_as_string(hide_password=True),
        ", ".join(step.source_revision_ids) or "empty",
        ", ".join(step.destination_revision_ids) or "empty",
        revision.doc if revision is not None else "",
    )


def _configure(connection: Connection | None = None) -> None:
    context.configure(
        connection=connection,
        url=None if connection is not None else _url(),
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        on_version_apply=_log_step,
    )


if context.is_offline_mode():
    _configure()
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(_url())
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Processes that start together (the web processes and the worker of a lab)
                # migrate one after the other: the next finds the schema done.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            context.run_migrations()
    engine.dispose()
