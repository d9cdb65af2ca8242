"""Topics: a reader's interests, each with its own labels, model versions, scores and retrains.

A topic belongs to one reader (``app.store.readers``); every function here takes the reader's id
and never finds, lists or changes another reader's topic. It defaults to the first reader, the
only one of a single-reader install. A topic's name is a URL-safe slug (``rl-robotics``), kept in
lower case, so unique per reader whatever the case it is typed in. Each reader's topic
``default`` takes every request that names none: it is never renamed nor deleted (the first
reader's holds what came before topics). Deleting a topic deletes its labels, skips,
model versions (with their scores) and retrain runs, and nothing of another topic; the caller
exports its labels first (``app.store.labels.export_labels_csv``) and, once the deletion is
committed, removes the model directories the service made for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.core.private_files import private_directory
from app.store.schema import (
    DEFAULT_TOPIC,
    FIRST_READER_ID,
    Label,
    ModelVersion,
    OnboardingSkip,
    RetrainRun,
    Score,
    Topic,
)

logger = logging.getLogger(__name__)

MAX_NAME = 64
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class TopicError(ValueError):
    """A topic name that cannot be used, or a change the default topic does not allow."""


class TopicNotFound(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no topic {name!r} (`arxiv-reco topics list` and GET /topics list them)")
        self.name = name


class TopicExists(TopicError):
    pass


def topic_name(name: str) -> str:
    """``name`` as stored: lower case, checked to be a slug; TopicError naming it otherwise."""
    normal = name.strip().lower()
    if not normal or len(normal) > MAX_NAME or not _SLUG.fullmatch(normal):
        raise TopicError(
            f"topic name {name!r} is not a slug: lower-case letters, digits and single hyphens "
            f"between them, at most {MAX_NAME} characters (e.g. llm-evaluation)"
        )
    return normal


def list_topics(session: Session, reader_id: int = FIRST_READER_ID) -> list[Topic]:
    """The reader's topics, in the reader's order."""
    return list(
        session.scalars(
            select(Topic).where(Topic.reader_id == reader_id).order_by(Topic.position, Topic.id)
        )
    )


def every_topic(session: Session) -> list[Topic]:
    """Every reader's topics (the worker's jobs: scoring, retrains), in the readers' order."""
    return list(session.scalars(select(Topic).order_by(Topic.reader_id, Topic.position, Topic.id)))


def find_topic(session: Session, name: str, reader_id: int = FIRST_READER_ID) -> Topic:
    """The reader's topic of that name, whatever its case; TopicNotFound naming it."""
    topic = session.scalar(
        select(Topic).where(Topic.reader_id == reader_id, Topic.name == name.strip().lower())
    )
    if topic is None:
        raise TopicNotFound(name)
    return topic


def reader_topic(session: Session, topic_id: int, reader_id: int = FIRST_READER_ID) -> Topic | None:
    """The topic of that id if it is the reader's; None otherwise (gone, or someone else's)."""
    topic = session.get(Topic, topic_id)
    return topic if topic is not None and topic.reader_id == reader_id else None


def create_topic(session: Session, name: str, reader_id: int = FIRST_READER_ID) -> Topic:
    """A new topic of the reader's, last in the reader's order."""
    normal = topic_name(name)
    mine = Topic.reader_id == reader_id
    if session.scalar(select(Topic.id).where(mine, Topic.name == normal)) is not None:
        raise TopicExists(f"a topic named {normal!r} exists already")
    last = session.scalar(select(func.max(Topic.position)).where(mine)) or 0
    topic = Topic(reader_id=reader_id, name=normal, position=last + 1)
    session.add(topic)
    session.flush()
    return topic


def rename_topic(
    session: Session, name: str, new_name: str, reader_id: int = FIRST_READER_ID
) -> Topic:
    topic = find_topic(session, name, reader_id)
    normal = topic_name(new_name)
    if topic.is_default:
        raise TopicError(f"the topic {DEFAULT_TOPIC!r} takes every request without a topic")
    taken = select(Topic.id).where(Topic.reader_id == reader_id, Topic.name == normal)
    if normal != topic.name and session.scalar(taken):
        raise TopicExists(f"a topic named {normal!r} exists already")
    topic.name = normal
    session.flush()
    return topic


def move_topic(
    session: Session, name: str, position: int, reader_id: int = FIRST_READER_ID
) -> Topic:
    """Put the topic at ``position`` (0 first) of the reader's order, the others kept in their
    order around it; a position past the end puts it last."""
    topic = find_topic(session, name, reader_id)
    if position < 0:
        raise TopicError(f"position {position} is negative: 0 is the first")
    order = [t for t in list_topics(session, reader_id) if t.id != topic.id]
    order.insert(min(position, len(order)), topic)
    for index, each in enumerate(order):
        each.position = index
    session.flush()
    return topic


@dataclass(frozen=True)
class DeletedTopic:
    name: str
    labels: int
    model_versions: int
    retrain_runs: int
    model_paths: list[str]  # the deleted versions' directories (still on disk)


def remove_model_directories(
    paths: list[str], root: Path, remove_url: Callable[[str], bool] | None = None
) -> int:
    """Remove a deleted topic's model directories that the service made (inside ``root``, the
    model directory, or in the model store by ``remove_url``); a directory registered from
    elsewhere is the reader's own and stays. After
    the deletion is committed: a failure leaves files behind, never a topic half deleted."""
    removed, inside = 0, Path(root).resolve()
    for path in paths:
        if "://" in path:  # in the model store, where only retrains upload
            removed += bool(remove_url and remove_url(path))
            continue
        directory = Path(path).resolve()
        if directory.parent != inside and inside not in directory.parents:
            logger.info("kept %s: the topic's model was registered from outside %s", path, root)
            continue
        try:
            shutil.rmtree(directory)
        except FileNotFoundError:
            continue
        except OSError as err:
            logger.warning("could not remove the deleted topic's model %s: %s", directory, err)
            continue
        removed += 1
    return removed


def labels_export_path(data_dir: str | Path, name: str) -> Path:
    """Where a deleted topic's labels are exported first: ``<data>/exports`` (made for the
    owner only), the topic's name and the UTC time in the file's name."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return private_directory(Path(data_dir) / "exports") / f"topic-{name}-{stamp}-labels.csv"


def check_deletable(topic: Topic) -> None:
    """TopicError for the default topic, before anything is exported or deleted."""
    if topic.is_default:
        raise TopicError(f"the topic {DEFAULT_TOPIC!r} takes every request without a topic")


def delete_topic(session: Session, name: str, reader_id: int = FIRST_READER_ID) -> DeletedTopic:
    """Delete the reader's topic and everything of it, in the caller's transaction."""
    topic = find_topic(session, name, reader_id)
    check_deletable(topic)
    return delete_topic_data(session, topic)


def delete_topic_data(session: Session, topic: Topic) -> DeletedTopic:
    """Delete the topic, the default one too (a removed reader's), and everything of it."""
    versions = select(ModelVersion.id).where(ModelVersion.topic_id == topic.id)
    labels = session.scalar(select(func.count(Label.paper_id)).where(Label.topic_id == topic.id))
    paths = list(
        session.scalars(select(ModelVersion.path).where(ModelVersion.topic_id == topic.id))
    )
    # Explicitly, child tables first: not every backend enforces the cascades.
    session.execute(delete(Score).where(Score.model_version_id.in_(versions)))
    runs = session.execute(delete(RetrainRun).where(RetrainRun.topic_id == topic.id))
    models = session.execute(delete(ModelVersion).where(ModelVersion.topic_id == topic.id))
    session.execute(delete(Label).where(Label.topic_id == topic.id))
    session.execute(delete(OnboardingSkip).where(OnboardingSkip.topic_id == topic.id))
    session.delete(topic)
    session.flush()
    return DeletedTopic(
        name=topic.name,
        labels=labels or 0,
        model_versions=models.rowcount,  # type: ignore[attr-defined]
        retrain_runs=runs.rowcount,  # type: ignore[attr-defined]
        model_paths=paths,
    )
