"""Which reader a token belongs to, answered from memory: every request asks, and the busiest one
(``GET /recommendations``, served from the response cache) must cost no query for it.

The map of token hashes to readers is read again whenever the database has changed since (the
response cache's version: SQLite's commit counter, PostgreSQL's change notifications, which
migration 0011 sends for ``readers`` too), so a removed reader or a renewed token stops working
at the next request after its commit, in every process. A notification arrives a moment after
its commit, so the process that commits a change of readers (a token renewed through its admin
API) does not wait for it: its own commit makes it read the map again. With caching off it is
read every time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from app.core.cache import ResponseCache
from app.store.readers import hash_token, token_holders
from app.store.schema import Reader

_CHANGED = "readers_changed"  # in a session's info: it wrote to ``readers``


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
        self._committed_here = 0  # commits of this process's sessions that changed readers
        event.listen(sessions, "after_flush", self._flushed)
        event.listen(sessions, "do_orm_execute", self._executed)
        event.listen(sessions, "after_commit", self._committed)
        event.listen(sessions, "after_rollback", self._rolled_back)

    def current(self) -> KnownReaders:
        version = self._cache.version()
        if version is not None:
            # Read before the map: a commit here while it is read leaves it stale, never kept.
            version = (*version, self._committed_here)
        known = self._known
        if version is not None and known is not None and known[0] == version:
            return known[1]
        with self._lock:
            with self._sessions() as session:
                fresh = KnownReaders(token_holders(session))
            if version is not None:
                self._known = (version, fresh)
            return fresh

    @staticmethod
    def _flushed(session: Session, _context: Any) -> None:
        written = (*session.new, *session.dirty, *session.deleted)
        if any(isinstance(instance, Reader) for instance in written):
            session.info[_CHANGED] = True

    @staticmethod
    def _executed(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and any(
            mapper.class_ is Reader for mapper in state.all_mappers
        ):
            state.session.info[_CHANGED] = True  # an UPDATE or DELETE statement of readers

    def _committed(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            self._committed_here += 1

    @staticmethod
    def _rolled_back(session: Session) -> None:
        session.info.pop(_CHANGED, None)

    def token_hash_of(self, reader_id: int) -> str | None:
        """The reader's token hash (a feed key signs it); None for a reader with no token."""
        return next(
            (h for h, (found, _) in self.current().by_hash.items() if found == reader_id), None
        )

    def find(self, token: str) -> tuple[int, str] | None:
        """(id, name) of the reader whose token this is; None for any other string."""
        return self.current().by_hash.get(hash_token(token)) if token else None
