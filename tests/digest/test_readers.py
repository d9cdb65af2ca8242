"""A digest per reader (issue 20): each reader's email holds only their own topics, goes to the
address they gave, and is recorded in a state of their own; a reader without an address gets
none, and the first reader without one keeps ARXIV_RECO_DIGEST_TO."""

from __future__ import annotations

from sqlalchemy import update

from app.core.db import session_scope
from app.digest.service import send_every_daily_digest
from app.digest.state import load_state
from app.store.readers import add_reader
from app.store.schema import Topic
from tests.digest.conftest import SECOND, parts


def test_each_reader_gets_their_own_topics_at_their_own_address(
    sessions, digest_settings, holders, two_topics, inbox
):
    with session_scope(sessions) as session:
        add_reader(session, "alice")  # no address: the install's DIGEST_TO, as before
        bob = add_reader(session, "bob", email="bob@example.org").reader
        add_reader(session, "carol")  # no address: no digest
        # The second topic, with its model and scores, is bob's.
        session.execute(update(Topic).where(Topic.id == two_topics).values(reader_id=bob.id))
        bob_id = bob.id
    outcomes = send_every_daily_digest(sessions, digest_settings, holders)
    assert sorted(outcomes) == [1, bob_id]
    assert all(outcome is not None and outcome.sent for outcome in outcomes.values())
    sent = {message["To"]: parts(message)[0] for message in inbox.messages}
    assert sorted(sent) == ["bob@example.org", "reader@example.org"]
    alices, bobs = sent["reader@example.org"], sent["bob@example.org"]
    assert SECOND not in alices
    assert f"######## {SECOND}" in bobs and "######## default" not in bobs
    # Each reader's own state: a send to one is not a send to another.
    assert load_state(digest_settings, 1).last_day_sent is not None
    assert load_state(digest_settings, bob_id).last_day_sent is not None
    assert send_every_daily_digest(sessions, digest_settings, holders) == {1: None, bob_id: None}
    assert len(inbox.messages) == 2
