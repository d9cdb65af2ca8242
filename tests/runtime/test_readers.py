"""The reader map every request asks (``app.runtime.readers``): read again after a commit that
changed readers, from this process at once, not when the database's notification arrives."""

from __future__ import annotations

from app.core.db import Database, session_scope
from app.runtime.readers import ReaderDirectory
from app.store.readers import add_reader, remove_reader, renew_token


class Deaf:
    """A response cache that has heard no commit since: every notification still on its way."""

    def version(self) -> tuple[int]:
        return (1,)


def test_a_change_of_readers_committed_here_is_seen_at_once(sessions, settings):
    directory = ReaderDirectory(sessions, Deaf())  # type: ignore[arg-type]
    assert not directory.current().made
    with session_scope(sessions) as session:
        alice = add_reader(session, "alice").token
        bob = add_reader(session, "bob").token
    assert directory.find(alice) is not None and directory.find(bob) is not None
    assert directory.current() is directory.current()  # kept while nothing changes
    with session_scope(sessions) as session:
        renewed = renew_token(session, "alice")
    assert directory.find(alice) is None and directory.find(renewed) is not None
    with session_scope(sessions) as session:  # a DELETE statement, not an object deleted
        remove_reader(session, "bob", data_dir=settings.data_dir)
    assert directory.find(bob) is None
    with sessions() as session:  # rolled back: nothing changed, the map is kept
        renew_token(session, "alice")
        session.rollback()
    known = directory.current()
    assert directory.find(renewed) is not None and directory.current() is known
    # Another process's commit (a CLI) is seen when the cache hears of it, as before.
    with (
        Database(settings.resolved_database_url) as elsewhere,
        session_scope(elsewhere.sessions) as session,
    ):
        renew_token(session, "alice")
    assert directory.find(renewed) is not None
