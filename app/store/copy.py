"""Moving a whole install's data into another database (``arxiv-reco migrate-to URL``): a
single-reader SQLite install into the PostgreSQL of a lab server, say.

Every table of the schema is copied in the order its foreign keys need, in chunks, in one
transaction on the target, which must be empty (migrated to the newest revision, nothing stored
but the default topic and the first reader). Each table's rows are counted on both sides before
the commit: a count that differs rolls the whole copy back. Integer ids keep their values, and
PostgreSQL's sequences are moved past them, so the rows made after the move never collide. The
source is only read, in one transaction: what it held when the copy began. Derived data is not
copied but rebuilt by the target: its full-text index, filled by its own triggers as the papers
arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, Integer, Table, delete, func, insert, inspect, select, text
from sqlalchemy.engine import Connection

from app.store.schema import DEFAULT_TOPIC_ID, FIRST_READER_ID, Base, JobLockHolder, Reader, Topic

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5_000
# What holds a job's lock in the source says nothing about the target.
_NOT_COPIED = {JobLockHolder.__tablename__}


class CopyRefused(RuntimeError):
    """The target is not empty, or is the source; nothing was written."""


class CountMismatch(RuntimeError):
    """A table's rows on the target differ from the source's; the copy was rolled back."""


@dataclass(frozen=True)
class TableCopied:
    name: str
    source_rows: int
    target_rows: int


def tables() -> list[Table]:
    """The schema's tables, parents before children."""
    return [t for t in Base.metadata.sorted_tables if t.name not in _NOT_COPIED]


def _count(connection: Connection, table: Table) -> int:
    return connection.scalar(select(func.count()).select_from(table)) or 0


def check_foreign(engine: Engine) -> None:
    """CopyRefused when the target holds tables that are not this service's (a mistyped URL
    naming someone else's database): checked before anything is created there."""
    # With the migrations' own tables: SQLite's change counters (0012) are not a model's.
    ours = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version", "change_counters"}
    found = set(inspect(engine).get_table_names())
    foreign = sorted(found - ours)
    if foreign:
        raise CopyRefused(
            f"the target database holds tables that are not arxiv-reco's ({', '.join(foreign[:5])}"
            f"{', …' if len(foreign) > 5 else ''}); give a new, empty database: nothing was written"
        )


def check_empty(connection: Connection) -> None:
    """CopyRefused unless the target holds nothing but the default topic and the first reader,
    as its migrations made them."""
    made = {Topic.__tablename__, Reader.__tablename__}
    stored = {
        t.name: n
        for t in tables()
        if (n := _count(connection, t)) and not (t.name in made and n == 1)
    }
    topics = connection.scalars(select(Topic.id)).all()
    readers = connection.execute(select(Reader.id, Reader.token_hash)).all()
    if (
        stored
        or topics not in ([], [DEFAULT_TOPIC_ID])
        or readers not in ([], [(FIRST_READER_ID, None)])
    ):
        what = ", ".join(f"{n} {name}" for name, n in stored.items()) or "other topics or readers"
        raise CopyRefused(
            f"the target database is not empty ({what}); give an empty database (created and "
            "left empty, or new): nothing was written"
        )


def copy_database(
    source: Engine,
    target: Engine,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[str], None] = logger.info,
) -> list[TableCopied]:
    """Copy every row of ``source`` into the empty, migrated ``target`` in one transaction;
    the counts of each table, checked equal before the commit."""
    if source.url == target.url:
        raise CopyRefused("the source and the target are the same database")
    copied = []
    with source.connect() as reading, target.begin() as writing:
        _read_as_of_now(reading)
        check_empty(writing)
        # The default topic and the first reader come from the source.
        writing.execute(delete(Topic))
        writing.execute(delete(Reader))
        for table in tables():
            total = _count(reading, table)
            done = 0
            rows = reading.execution_options(yield_per=chunk_rows).execute(select(table))
            for chunk in rows.partitions(chunk_rows):
                writing.execute(insert(table), [dict(row._mapping) for row in chunk])
                done += len(chunk)
                if total > chunk_rows:
                    progress(f"{table.name}: {done:,}/{total:,} rows")
            _move_sequence_past(writing, table, floor=_highest_used(reading, table))
            copied.append(TableCopied(table.name, total, _count(writing, table)))
            progress(f"{table.name}: {total:,} rows copied")
        wrong = [c for c in copied if c.source_rows != c.target_rows]
        if wrong:
            raise CountMismatch(
                "rows differ after the copy, so nothing was kept: "
                + ", ".join(f"{c.name} {c.source_rows} → {c.target_rows}" for c in wrong)
            )
    return copied


def _read_as_of_now(connection: Connection) -> None:
    """Every table read in one transaction, as the source was when the copy began: a row written
    meanwhile (a label through a web process left running) is in none of them, never in one
    table and missing from the one it refers to."""
    if connection.dialect.name == "sqlite":
        # The driver opens no transaction for reads; in WAL mode one keeps its snapshot while
        # writers go on.
        connection.exec_driver_sql("BEGIN")
    else:
        connection.execution_options(isolation_level="REPEATABLE READ")


def _highest_used(connection: Connection, table: Table) -> int:
    """SQLite's AUTOINCREMENT high-water mark of a table (ids of deleted rows, never reused: a
    deleted topic's id must not come back, its signed digest links name it); 0 elsewhere."""
    if connection.dialect.name != "sqlite":
        return 0
    try:
        found = connection.scalar(
            text("SELECT seq FROM sqlite_sequence WHERE name = :name"), {"name": table.name}
        )
    except Exception:  # no AUTOINCREMENT table at all: no sqlite_sequence
        return 0
    return int(found or 0)


def _move_sequence_past(connection: Connection, table: Table, *, floor: int = 0) -> None:
    """PostgreSQL: the id sequence of a table with an integer id, past the largest copied (and
    past ``floor``, the source's own high-water mark)."""
    if connection.dialect.name != "postgresql":
        return
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or not isinstance(keys[0].type, Integer):
        return
    sequence = connection.scalar(
        text("SELECT pg_get_serial_sequence(:table, :column)"),
        {"table": table.name, "column": keys[0].name},
    )
    if sequence is None:
        return
    largest = max(connection.scalar(select(func.max(keys[0]))) or 0, floor)
    connection.execute(
        text("SELECT setval(:sequence, :value, :called)"),
        {"sequence": sequence, "value": largest or 1, "called": largest > 0},
    )
