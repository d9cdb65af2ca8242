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

A topic's list (``scope``) is kept until a commit changes *its* topic (its scores, labels,
skips, model versions, retrain runs) or what every topic shares (papers, topics, runs,
categories, readers): migration 0012 makes each commit say which (SQLite: a small counters table
the triggers bump, read again when the commit counter moves; PostgreSQL: the changed topics in
the notification's payload). So the nightly retrains and re-scorings of thirty topics re-render
one topic's lists at a time, not every reader's at every commit. A label, too, re-renders its
own topic's lists only.

Changes the job makes are not waited for when their rendering is slow (``lookup``): a request
whose list only its topic's new scores made stale (a re-scoring commits every few seconds for
minutes; migration 0013 tells scores apart), or, while other lists render too, only a change
every topic shares (the night's ingestion re-renders every list at once), waits
``STALE_WAIT_SECONDS`` for its fresh list, then is answered the list as it was; the next one
after the rendering gets the fresh list. A shared change's list rendering alone (a reader alone
on the service, after their own ingestion) is always waited for, as is a change of the topic's
own (a label, a skip, a model activated or switched to).
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

# The database's commit counter; for a topic's list (``scoped_version``) the shared and the
# topic's commits and this process's model switches there (``invalidate``).
Version = tuple[int, ...]

# Migration 0010's notifications: a transaction that changed a table a page shows, committed.
CHANGES_CHANNEL = "arxiv_reco_changed"
DRAIN_SECONDS = 30.0
# How long a request waits for a list's fresh rendering after a change the job made, before it
# is answered the list as it was (``ResponseCache.lookup``): the night's ingestion changes every
# reader's every list at once (thirty renderings queued behind each other held requests for
# 300-470 ms), and a re-scoring changes its topic's lists every few seconds (100-300 ms each
# under load; bench/lab.py).
STALE_WAIT_SECONDS = 0.02
RECONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    etag: str
    version: Version
    # The topic whose list it is (its version is then ``scoped_version``'s): a commit or a
    # model switch of another topic leaves it as it is.
    scope: int | None = None


@dataclass(frozen=True)
class Lookup:
    """What the cache holds for a request: see ``ResponseCache.lookup``."""

    fresh: CachedBody | None = None
    stale: CachedBody | None = None
    rescored: bool = False  # only the topic's scores changed since ``stale`` was rendered


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
        self._generations: dict[int, int] = {}
        # Which topics the commits changed (migration 0012): scope 0 is what every topic shares.
        # SQLite: read from change_counters when the commit counter moves; PostgreSQL: counted
        # from the notifications' payloads.
        self._scoped: dict[int, int] = {}
        self._counted_at: int | None = None
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
        """The database's commit counter as this cache sees it; None when caching is off (or,
        on PostgreSQL, while no connection listens: uncached)."""
        if self._postgresql is not None:
            heard = self._heard(connect=False)
            return None if heard is None else (heard,)
        if self._connection is None:
            return None
        with self._lock:
            counter = int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            return (counter,)

    def scoped_version(self, scope: int) -> Version | None:
        """What a topic's list depends on: the commits that changed what every topic shares and
        those that changed this topic, with this process's model switches there; None when
        caching is off. Read before rendering, kept with the body."""
        if self._postgresql is not None:
            if self._heard(connect=False) is None:
                return None
        elif self._connection is None:
            return None
        with self._lock:
            if self._connection is not None:
                counter = int(self._connection.execute("PRAGMA data_version").fetchone()[0])
                if counter != self._counted_at:
                    rows = self._connection.execute("SELECT scope, counter FROM change_counters")
                    self._scoped = dict(rows.fetchall())
                    self._counted_at = counter
            return (
                self._scoped.get(0, 0),
                self._scoped.get(scope, 0),
                self._generations.get(scope, 0),
                self._scoped.get(-scope, 0),  # its scores (migration 0013)
            )

    def invalidate(self, scope: int) -> None:
        """Forget the rendered bodies of a topic (``scope``): this process now serves another
        model there (a newly activated one loaded in the background commits nothing). A body
        of another topic stays: thirty topics' nightly retrains must not re-render every
        reader's list thirty times."""
        with self._lock:
            self._generations[scope] = self._generations.get(scope, 0) + 1

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
                    self._scoped[0] = self._scoped.get(0, 0) + 1
                raw = self._listening.connection.dbapi_connection
                for notification in raw.notifies(timeout=0):
                    self._changes += 1
                    payload = notification.payload
                    scoped = payload[:2] in ("t:", "s:")  # a topic's, or its scores
                    sign = -1 if payload.startswith("s:") else 1
                    for scope in payload[2:].split(",") if scoped else ["0"]:
                        key = sign * int(scope) if scope.isdigit() else 0
                        self._scoped[key] = self._scoped.get(key, 0) + 1
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
        """The body rendered for ``key`` if nothing it depends on changed since: for a topic's
        list (``scope``), its topic's and the shared commits only."""
        return self.lookup(key).fresh

    def lookup(self, key: Hashable) -> Lookup:
        """The body for ``key`` if nothing it depends on changed since (``fresh``); otherwise,
        for a topic's list that only the job's changes made stale, the body as it was
        (``stale``), which a caller may answer while the fresh one takes long to render
        (``STALE_WAIT_SECONDS``): its topic's new scores (``rescored``: a re-scoring commits
        every few seconds), or what every topic shares (the night's ingestion, another reader's
        new topic). A change of the topic's own (a label, a skip, a model activated or
        switched to) never leaves a stale body."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.scope is not None:
            version = self.scoped_version(entry.scope)
        else:
            version = self.version()
        if version is None:
            return Lookup()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(key)
                self.hits += 1
                return Lookup(fresh=entry)
            self.misses += 1
            if entry is None:
                return Lookup()
            if entry.scope is not None and entry.version[1:3] == version[1:3]:
                # Kept until its fresh rendering replaces it.
                return Lookup(stale=entry, rescored=entry.version[0] == version[0])
            del self._entries[key]  # rendered before a change of its topic's own
            return Lookup()

    def forget(self, key: Hashable) -> None:
        """Drop ``key``'s body (its fresh rendering failed: the list is gone or broken)."""
        with self._lock:
            self._entries.pop(key, None)

    def put(
        self,
        key: Hashable,
        body: bytes,
        *,
        version: Version | None,
        scope: int | None = None,
    ) -> CachedBody:
        """Store ``body`` rendered from the database as it was at ``version`` (read *before*
        rendering, so a commit during rendering makes the entry stale rather than wrong): for a
        topic's list (``scope``), ``scoped_version(scope)``."""
        entry = CachedBody(
            body=body,
            etag=etag_of(body),
            version=(-1, -1) if version is None else version,
            scope=scope,
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
