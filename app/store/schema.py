"""The database schema. Alembic (``migrations/``) owns it; nothing here creates tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """SQLite forgets time zones; store naive UTC and hand back aware datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; expected a timezone-aware one")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Paper(Base):
    __tablename__ = "papers"
    # A day's ids and versions straight from the index (migration 0002).
    __table_args__ = (Index("ix_papers_day_id_version", "submitted_on", "id", "version"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # arXiv id, no version
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Mathematics Subject and ACM classes ("68T07 (Primary)", "I.2.7"), which arXiv's API lists
    # among the category terms (app.core.config.split_subject_classes).
    subject_classes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    primary_category: Mapped[str] = mapped_column(String(32), default="")
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The UTC day of the first version: the day a recommendation list is keyed by.
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    journal_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    doi: Mapped[str | None] = mapped_column(String(255), nullable=True)
    abs_url: Mapped[str] = mapped_column(String(255), default="")
    pdf_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    scores: Mapped[list[Score]] = relationship(back_populates="paper", passive_deletes=True)
    labels: Mapped[list[Label]] = relationship(back_populates="paper", passive_deletes=True)


# The reader migration 0011 made: the install's one reader before any reader is made, who owns
# the data from before readers; the first reader made takes this row (app.store.readers).
FIRST_READER_ID = 1


class Reader(Base):
    """Someone with their own topics, labels, models and digest. While no reader has a token (a
    single-reader install) the service answers as it always did, as reader 1."""

    __tablename__ = "readers"
    # A removed reader's id is never given to a new one.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A slug, as a topic's; None for reader 1 until the first reader is made.
    name: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # SHA-256 (hex) of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # Where the reader's digest goes (None: reader 1 keeps ARXIV_RECO_DIGEST_TO; others get none).
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    token_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


# The topic migration 0008 made of the data before topics: requests without a topic go to it, so
# it is never renamed nor deleted (app.store.topics). Every reader has a topic of this name.
DEFAULT_TOPIC_ID = 1
DEFAULT_TOPIC = "default"


class Topic(Base):
    """One of a reader's interests: its own labels, model versions, scores and retrains."""

    __tablename__ = "topics"
    # Never reuse a deleted topic's id (SQLite would): nothing of it may come back to a new one.
    __table_args__ = (
        UniqueConstraint("reader_id", "name", name="uq_topics_reader_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column(
        ForeignKey("readers.id", name="fk_topics_reader"), default=FIRST_READER_ID
    )
    # A URL-safe slug, lower case (so unique whatever the case it was typed in), per reader.
    name: Mapped[str] = mapped_column(String(64))
    # The reader's order: the page's switcher and the digest's sections follow it.
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_default(self) -> bool:
        """The reader's topic that takes every request naming none: never renamed nor deleted."""
        return self.name == DEFAULT_TOPIC


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (Index("ix_model_versions_topic_active", "topic_id", "is_active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key (SQLite could add none in place without copying the table, which would
    # cascade into the scores): deleting a topic deletes its versions (app.store.topics).
    topic_id: Mapped[int] = mapped_column(Integer, default=DEFAULT_TOPIC_ID)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text, unique=True)
    method: Mapped[str] = mapped_column(String(32))
    # The threshold is not stored here: the model directory's reco_model.json is its one home.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("paper_id", "model_version_id", name="uq_scores_paper_model"),
        Index("ix_scores_model_probability", "model_version_id", "probability"),
        # A paper's score for a model and paper version, read from the index alone (0002).
        Index("ix_scores_lookup", "paper_id", "model_version_id", "paper_version", "probability"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    probability: Mapped[float] = mapped_column(Float)
    # The paper version that was scored, so a new version is scored again.
    paper_version: Mapped[int] = mapped_column(Integer, default=1)
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    paper: Mapped[Paper] = relationship(back_populates="scores")


class Label(Base):
    """The reader's answer for a paper in one topic: a paper can be ✓ in one and ✕ in another."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_paper", "paper_id"),)

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, default=DEFAULT_TOPIC_ID
    )
    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    interest: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32), default="api")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    paper: Mapped[Paper] = relationship(back_populates="labels")


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    trigger: Mapped[str] = mapped_column(String(32), default="manual")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # running | success | failed | interrupted (its process died; swept at the next start)
    status: Mapped[str] = mapped_column(String(16), default="running")
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RetrainRun(Base):
    """One retrain: its trigger, the labels it saw, and why its model was or was not activated."""

    __tablename__ = "retrain_runs"
    __table_args__ = (Index("ix_retrain_runs_topic", "topic_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(Integer, default=DEFAULT_TOPIC_ID)  # as model_versions
    trigger: Mapped[str] = mapped_column(String(32))  # nightly | page | cli | ...
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|success|failed
    method: Mapped[str] = mapped_column(String(32))
    labels: Mapped[int] = mapped_column(Integer, default=0)
    # The labels it trained on: a nightly retrain on the same labels and method is not repeated.
    data_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL"), nullable=True
    )
    activated: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    gate: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class FollowedCategory(Base):
    """A followed arXiv category (``app.store.categories``); none stored: the environment's list."""

    __tablename__ = "followed_categories"

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The days fetched for it when it was added on the page (None: it came with the first list).
    backfill_first: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    backfill_last: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class JobLockHolder(Base):
    """What holds the job's one lock where the lock is the database's (PostgreSQL's advisory
    lock, ``app.jobs.lock``): one row, id 1, written by the taker, deleted when it gives it; a
    cancel of the job is stamped on it, so it goes with the job."""

    __tablename__ = "job_lock_holder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    what: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When a cancel of the running ingestion was asked (``DELETE /ingest``, from any host).
    cancel_requested: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OnboardingSkip(Base):
    """A paper the reader skipped on the onboarding page: it is not asked again."""

    __tablename__ = "onboarding_skips"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, default=DEFAULT_TOPIC_ID
    )
    paper_id: Mapped[str] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    skipped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
