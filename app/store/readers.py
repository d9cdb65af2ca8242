"""Readers: the people of one install, each with their own topics, labels, models and digest.

A single-reader install has one reader, row 1, with no name and no token: every request is
theirs and the service answers as it always did. The first reader an admin makes takes that row,
with every topic, label and model already stored; each later reader starts with an empty topic
``default`` of their own. Once any reader has a token, every request that reads or writes a
reader's data must carry one, and sees that reader's data only (``app.api.deps``).

A token is shown once, when it is made; only its SHA-256 is stored. Papers, listings and search
are shared by every reader.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.store.labels import export_labels_csv
from app.store.schema import DEFAULT_TOPIC, FIRST_READER_ID, Label, Reader, Topic, utcnow
from app.store.topics import (
    TopicError,
    delete_topic_data,
    labels_export_path,
    list_topics,
    topic_name,
)

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
MAX_EMAIL = 320


class ReaderError(ValueError):
    """A name, address or change that cannot be taken; the message says why."""


class ReaderNotFound(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no reader {name!r} (`arxiv-reco readers list` lists them)")
        self.name = name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def reader_name(name: str) -> str:
    """``name`` as stored: a slug in lower case, as a topic's name; ReaderError naming it."""
    try:
        return topic_name(name)
    except TopicError:
        raise ReaderError(
            f"reader name {name!r} is not a slug: lower-case letters, digits and single hyphens "
            "between them, at most 64 characters (e.g. ada or ada-lovelace)"
        ) from None


def checked_email(email: str | None) -> str | None:
    """A digest address as stored (None: none); ReaderError naming a value that is none."""
    if email is None or not email.strip():
        return None
    value = email.strip()
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(value) > MAX_EMAIL
        or any(c.isspace() or c in '<>,;"' for c in value)
    ):
        raise ReaderError(f"{email!r} is not an email address (name@example.org)")
    return value


def token_holders(session: Session) -> dict[str, tuple[int, str]]:
    """Each token's hash with its reader's id and name; empty while no reader is made (from the
    first one on, every request names its reader)."""
    rows = session.execute(
        select(Reader.token_hash, Reader.id, Reader.name).where(Reader.token_hash.is_not(None))
    )
    return {
        token_hash: (reader_id, name or "") for token_hash, reader_id, name in rows if token_hash
    }


def list_readers(session: Session) -> list[Reader]:
    """The readers made (with a name), the first first."""
    return list(session.scalars(select(Reader).where(Reader.name.is_not(None)).order_by(Reader.id)))


def find_reader(session: Session, name: str) -> Reader:
    reader = session.scalar(select(Reader).where(Reader.name == name.strip().lower()))
    if reader is None:
        raise ReaderNotFound(name)
    return reader


@dataclass(frozen=True)
class NewReader:
    reader: Reader
    token: str  # shown once; only its hash is stored
    took_existing_data: bool  # the first reader: the install's labels, models and topics


def add_reader(session: Session, name: str, *, email: str | None = None) -> NewReader:
    """Make a reader and their token, in the caller's transaction. The first one takes row 1 and
    everything stored so far; each later one gets an empty topic ``default``."""
    normal = reader_name(name)
    address = checked_email(email)
    if session.scalar(select(Reader.id).where(Reader.name == normal)) is not None:
        raise ReaderError(f"a reader named {normal!r} exists already")
    token, now = new_token(), utcnow()
    # Row 1 is taken by one reader only, even by two requests at once: the one whose update
    # finds it unnamed.
    took = (
        session.execute(
            update(Reader)
            .where(Reader.id == FIRST_READER_ID, Reader.name.is_(None))
            .values(name=normal, email=address)
        ).rowcount  # type: ignore[attr-defined]
        == 1
    )
    if took:
        reader = session.get_one(Reader, FIRST_READER_ID)
        session.refresh(reader)
    else:
        reader = Reader(name=normal, email=address)
        session.add(reader)
        session.flush()
        session.add(Topic(reader_id=reader.id, name=DEFAULT_TOPIC, position=0))
    reader.token_hash, reader.token_created_at = hash_token(token), now
    session.flush()
    return NewReader(reader, token, took)


def renew_token(session: Session, name: str) -> str:
    """A new token for the reader; the old one stops working at the commit."""
    reader = find_reader(session, name)
    token = new_token()
    reader.token_hash, reader.token_created_at = hash_token(token), utcnow()
    session.flush()
    return token


def set_email(session: Session, reader: Reader, email: str | None) -> Reader:
    reader.email = checked_email(email)
    session.flush()
    return reader


@dataclass(frozen=True)
class RemovedReader:
    name: str
    topics: int
    labels: int
    exported_to: Path | None  # the reader's labels, written before anything was deleted
    model_paths: list[str]  # the deleted versions' directories (still on disk)


def check_removable(reader: Reader) -> None:
    if reader.id == FIRST_READER_ID:
        raise ReaderError(
            f"{reader.name!r} is the first reader, who holds the install's data from before "
            "readers, and stays; `arxiv-reco readers token "
            f"{reader.name}` gives them a new token (the old one stops working)"
        )


def remove_reader(session: Session, name: str, *, data_dir: Path) -> RemovedReader:
    """Delete the reader and every topic of theirs (labels, skips, models, retrains), in the
    caller's transaction; their labels are exported first into ``<data>/exports``."""
    reader = find_reader(session, name)
    check_removable(reader)
    topics = list_topics(session, reader.id)
    ids = [topic.id for topic in topics]
    labels = session.scalar(select(func.count()).select_from(Label).where(Label.topic_id.in_(ids)))
    exported = None
    if labels:
        exported = labels_export_path(data_dir, f"reader-{reader.name}")
        export_labels_csv(session, exported, topic_id=None, reader_id=reader.id)
    paths: list[str] = []
    for topic in topics:
        paths += delete_topic_data(session, topic).model_paths
    session.execute(delete(Reader).where(Reader.id == reader.id))
    session.flush()
    return RemovedReader(str(reader.name), len(topics), labels or 0, exported, paths)
