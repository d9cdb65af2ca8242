"""Which reader a token belongs to, answered from memory: every request asks, and the busiest one
(``GET /recommendations``, served from the response cache) must cost no query for it.

The map of token hashes to readers is read again whenever the database has changed since (the
response cache's version: SQLite's commit counter, PostgreSQL's change notifications, which
migration 0011 sends for ``readers`` too), so a removed reader or a renewed token stops working
at the next request after its commit, in every process. With caching off it is read every time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.core.cache import ResponseCache
from app.store.readers import hash_token, token_holders


@dataclass(frozen=True)
class KnownReaders:
    by_hash: dict[str, tuple[int, str]]  # token hash -> (reader id, name)

    @property
    def made(self) -> bool:
        """Whether any reader has a token: from then on every request must name its reader."""
        return bool(self.by_hash)


class ReaderDirectory:
    def __init__(self, sessions: sessionmaker[Session], cache: ResponseCache):
        self._sessions, self._cache = sessions, cache
        self._lock = threading.Lock()
        self._known: tuple[object, KnownReaders] | None = None

    def current(self) -> KnownReaders:
        version = self._cache.version()
        known = self._known
        if version is not None and known is not None and known[0] == version:
            return known[1]
        with self._lock:
            with self._sessions() as session:
                fresh = KnownReaders(token_holders(session))
            if version is not None:
                self._known = (version, fresh)
            return fresh

    def token_hash_of(self, reader_id: int) -> str | None:
        """The reader's token hash (a feed key signs it); None for a reader with no token."""
        return next(
            (h for h, (found, _) in self.current().by_hash.items() if found == reader_id), None
        )

    def find(self, token: str) -> tuple[int, str] | None:
        """(id, name) of the reader whose token this is; None for any other string."""
        return self.current().by_hash.get(hash_token(token)) if token else None
