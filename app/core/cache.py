"""Rendered read responses, kept until the database changes.

A list of recommendations changes only when something is committed: papers ingested, scores
written, a model activated. Before each lookup the cache asks for the database's version, a
number every commit moves, so a cached body is served only while no commit has happened since
it was rendered, and the next request after a commit renders afresh:

- SQLite counts commits for us: ``PRAGMA data_version`` on a connection changes whenever
  *another* connection commits, in this process or any other (the CLI, a second worker). One
  private read-only connection asks it (a few microseconds).
- PostgreSQL: every table a page shows notifies ``arxiv_reco_changed`` when a transaction that
  changed it commits (migration 0010), from any process on any host. One private connection
  outside the pool listens, and the version counts the notifications received (taking them
  costs about 30 microseconds). A notification arrives a moment after its commit (well under a
  millisecond on one host): a request in that moment may get the list as it was, and the next
  one renders afresh. A lost listening connection makes the cache render every request until
  it is back, and counts as a change.

Labels commit too, so a label also empties the cache; that is cheap and keeps the rule simple.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from app.core.db import unpooled_connection

logger = logging.getLogger(__name__)

# The database's commit counter, and this process's count of model switches (a newly loaded
# model renders the same rows otherwise: ``invalidate``).
Version = tuple[int, int]

# Migration 0010's notifications: a transaction that changed a table a page shows, committed.
CHANGES_CHANNEL = "arxiv_reco_changed"
DRAIN_SECONDS = 30.0
RECONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    etag: str
    version: Version
    # The topic whose model rendered it, and that topic's model switches then: a switch in this
    # process (which commits nothing) makes that topic's bodies stale, and no other topic's.
    scope: int | None = None
    generation: int = 0


class ResponseCache:
    """A bounded map from a request key to a rendered body, valid for one database version."""

    def __init__(
        self,
        database: Path | None,
        *,
        max_entries: int = 512,
        postgresql: Engine | None = None,
    ):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, CachedBody] = OrderedDict()
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        # PostgreSQL: the engine, the listening connection and the changes heard.
        self._postgresql = postgresql if max_entries > 0 else None
        self._listening: Connection | None = None
        self._changes = 0
        self._switches = 0
        self._generations: dict[int, int] = {}
        self._stop = threading.Event()
        if self._postgresql is not None:
            # Notifications wait on the server until they are read: an idle process reads them
            # now and then, so that they never pile up in the server's queue.
            threading.Thread(target=self._drain, name="cache-listener", daemon=True).start()
        if database is not None and max_entries > 0:
            # Read-only and never in a transaction: it only watches for other connections' commits.
            self._connection = sqlite3.connect(
                f"{database.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
        self.hits = self.misses = self.renders = 0
        # Renderings in progress by key, so concurrent misses share one; event loop only.
        self.rendering: dict[Hashable, asyncio.Future[CachedBody]] = {}

    @classmethod
    def for_engine(cls, engine: Engine, *, max_entries: int) -> ResponseCache:
        """Caching needs SQLite's commit counter or PostgreSQL's change notifications; other
        databases (and in-memory SQLite) go uncached."""
        url = engine.url
        if url.get_backend_name() == "postgresql":
            return cls(None, max_entries=max_entries, postgresql=engine)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            logger.info(
                "response cache off: %s has no commit counter to watch", url.render_as_string()
            )
            return cls(None, max_entries=0)
        return cls(Path(url.database), max_entries=max_entries)

    @property
    def enabled(self) -> bool:
        return self._connection is not None or self._postgresql is not None

    def version(self) -> Version | None:
        """The database's commit counter as this cache sees it, with this process's model
        switches; None when caching is off (or, on PostgreSQL, while no connection listens:
        uncached)."""
        if self._postgresql is not None:
            heard = self._heard(connect=False)
            return None if heard is None else (heard, self._switches)
        if self._connection is None:
            return None
        with self._lock:
            counter = int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            return (counter, self._switches)

    def invalidate(self, scope: int | None = None) -> None:
        """Forget the rendered bodies of a topic (``scope``), or every one: this process now
        serves another model there (a newly activated one loaded in the background commits
        nothing). A body of another topic stays: thirty topics' nightly retrains must not
        re-render every reader's list thirty times."""
        with self._lock:
            if scope is not None:
                self._generations[scope] = self._generations.get(scope, 0) + 1
                return
            self._switches += 1
            self._entries.clear()

    def generation(self, scope: int) -> int:
        """The topic's model switches so far: read before rendering, kept with the body."""
        with self._lock:
            return self._generations.get(scope, 0)

    def _drain(self) -> None:
        """The listener's own thread: it connects (and after a loss reconnects, backing off),
        so that a request never waits for a connection, and reads what arrived meanwhile."""
        wait = 0.0
        while not self._stop.wait(wait) and self._postgresql is not None:
            wait = DRAIN_SECONDS if self._heard(connect=True) is not None else RECONNECT_SECONDS

    def _heard(self, *, connect: bool) -> int | None:
        with self._lock:
            if self._postgresql is None:  # closed
                return None
            if self._listening is None and not connect:
                return None  # the listener's thread connects; uncached until then
            try:
                if self._listening is None:
                    self._listening = unpooled_connection(self._postgresql)
                    raw: Any = self._listening.connection.dbapi_connection
                    raw.autocommit = True
                    raw.execute(f"LISTEN {CHANGES_CHANNEL}")
                    self._changes += 1  # what changed while no one listened is unknown
                raw = self._listening.connection.dbapi_connection
                self._changes += sum(1 for _ in raw.notifies(timeout=0))
                return self._changes
            except Exception as err:  # the server away: uncached until it is back
                logger.warning("response cache: cannot listen for the database's changes: %s", err)
                if self._listening is not None:
                    self._listening.invalidate()  # a dead connection: never back to a pool
                    self._listening.close()
                self._listening = None
                return None

    def stats(self) -> dict[str, int | bool]:
        with self._lock:
            return {
                "enabled": self.enabled,
                "entries": len(self._entries),
                "hits": self.hits,
                "misses": self.misses,
                "renders": self.renders,
            }

    def get(self, key: Hashable) -> CachedBody | None:
        version = self.version()
        if version is None:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if (
                entry is not None
                and entry.version == version
                and (
                    entry.scope is None or self._generations.get(entry.scope, 0) == entry.generation
                )
            ):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            if entry is not None:  # rendered before the last commit
                del self._entries[key]
            self.misses += 1
            return None

    def put(
        self,
        key: Hashable,
        body: bytes,
        *,
        version: Version | None,
        scope: int | None = None,
        generation: int = 0,
    ) -> CachedBody:
        """Store ``body`` rendered from the database as it was at ``version`` (read *before*
        rendering, so a commit during rendering makes the entry stale rather than wrong), with
        the ``generation`` of its topic's model read before rendering too."""
        entry = CachedBody(
            body=body,
            etag=etag_of(body),
            version=(-1, -1) if version is None else version,
            scope=scope,
            generation=generation,
        )
        self.renders += 1
        if version is None:
            return entry
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._entries.clear()
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if self._listening is not None:
                self._listening.close()
                self._listening = None
            self._postgresql = None


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
