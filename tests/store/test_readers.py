"""Readers (issue 20): migration 0011 up and down with data, and the store's rules: the first
reader takes the install's data, names are unique per reader, a token is kept as its hash."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import select, text

from app.core.db import Database, alembic_config, session_scope
from app.store.labels import set_label
from app.store.readers import (
    ReaderError,
    add_reader,
    hash_token,
    remove_reader,
    token_holders,
)
from app.store.schema import Label, Reader, Topic
from app.store.topics import create_topic, delete_topic, find_topic, list_topics
from tests.factories import paper_row

NOW = dt.datetime(2026, 12, 1, 12, 0)


def test_migration_0011_gives_the_data_to_the_first_reader_and_back(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "0010")  # PostgreSQL's test database comes migrated to the head
    with Database(database_url, migrate=False) as database:
        with database.session() as session:  # the 0010 schema: raw rows
            session.add(paper_row("2601.00001"))
            session.flush()
            for name in ("robots", "gone"):  # ids from the table's own sequence
                session.execute(
                    text("INSERT INTO topics (name, position, created_at) VALUES (:name, 1, :now)"),
                    {"name": name, "now": NOW},
                )
            ids = dict(session.execute(text("SELECT name, id FROM topics")).all())
            assert (ids["robots"], ids["gone"]) == (2, 3)
            session.execute(text("DELETE FROM topics WHERE id = 3"))
            session.execute(
                text(
                    "INSERT INTO labels (topic_id, paper_id, interest, source, created_at, "
                    "updated_at) VALUES (2, '2601.00001', 1, 'web', :now, :now), "
                    "(1, '2601.00001', 0, 'web', :now, :now)"
                ),
                {"now": NOW},
            )
        command.upgrade(config, "head")
        with database.session() as session:
            assert not bool(token_holders(session))
            assert [(t.id, t.reader_id, t.name) for t in list_topics(session)] == [
                (1, 1, "default"),
                (2, 1, "robots"),
            ]
            assert session.execute(
                select(Label.topic_id, Label.interest).order_by(Label.topic_id)
            ).all() == [(1, 0), (2, 1)]
            # The deleted topic's id is never given again: its signed links name it.
            assert create_topic(session, "new").id > 3
            session.rollback()
        with session_scope(database.sessions) as session:
            first = add_reader(session, "ada")
            assert first.took_existing_data and first.reader.id == 1
            bob = add_reader(session, "bob").reader
            robots = create_topic(session, "robots", bob.id)  # the same name, another reader
            set_label(session, paper_id="2601.00001", interest=1, source="web", topic_id=robots.id)
        # Down: the first reader's topics and labels stay whole; bob's go.
        command.downgrade(config, "0010")
        with database.engine.connect() as connection:
            topics = connection.execute(text("SELECT id, name FROM topics ORDER BY id")).all()
            labels = connection.execute(text("SELECT topic_id FROM labels ORDER BY 1")).all()
        assert [tuple(t) for t in topics] == [(1, "default"), (2, "robots")]
        assert [t[0] for t in labels] == [1, 2]
        command.upgrade(config, "head")
        with database.session() as session:
            assert [t.name for t in list_topics(session)] == ["default", "robots"]
            assert not bool(token_holders(session))


def test_the_first_reader_takes_everything_and_the_next_start_empty(sessions, tmp_path):
    with session_scope(sessions) as session:
        assert not bool(token_holders(session))
        robots = create_topic(session, "robots")
        session.add(paper_row("2601.00001"))
        session.flush()
        set_label(session, paper_id="2601.00001", interest=1, source="web", topic_id=robots.id)
        ada = add_reader(session, "Ada", email=" ada@example.org ")
        assert ada.took_existing_data and bool(token_holders(session))
        assert (ada.reader.name, ada.reader.email) == ("ada", "ada@example.org")
        assert ada.reader.token_hash == hash_token(ada.token) != ada.token
        assert token_holders(session)[hash_token(ada.token)] == (1, "ada")
        assert hash_token("") not in token_holders(session)
        bob = add_reader(session, "bob")
        assert not bob.took_existing_data
        assert [t.name for t in list_topics(session, bob.reader.id)] == ["default"]
        with pytest.raises(ReaderError, match="exists already"):
            add_reader(session, "BOB")
        with pytest.raises(ReaderError, match="not a slug"):
            add_reader(session, "bob smith")
        with pytest.raises(ReaderError, match="not an email address"):
            add_reader(session, "carol", email="carol@localhost")
        bobs = create_topic(session, "robots", bob.reader.id)
        set_label(session, paper_id="2601.00001", interest=0, source="web", topic_id=bobs.id)
        assert find_topic(session, "robots", bob.reader.id).id == bobs.id
        assert find_topic(session, "robots").id == robots.id
        # One reader's deletion never reaches the other's topic of the same name.
        delete_topic(session, "robots", bob.reader.id)
        assert find_topic(session, "robots").id == robots.id
        removed = remove_reader(session, "bob", data_dir=tmp_path)
        assert (removed.topics, removed.labels, removed.exported_to) == (1, 0, None)
        with pytest.raises(ReaderError, match="is the first reader"):
            remove_reader(session, "ada", data_dir=tmp_path)
        assert session.scalars(select(Reader.name)).all() == ["ada"]
        assert session.scalars(select(Topic.reader_id).distinct()).all() == [1]
