"""Rows and model versions for tests."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import session_scope
from app.jobs.rescore import score_other_topics
from app.serving.holder import ModelHolders
from app.serving.registry import register_model
from app.store.schema import Paper, Score, utcnow
from app.store.topics import create_topic
from training.inference.artifact import META_FILE, ModelMeta
from training.inference.layout import csv_frame

T = TypeVar("T")

SIGNAL_AUTHOR = "Ada Signal"  # an author of many interesting papers in with_metadata()
SIGNAL_COMMENT = "Code and models: https://github.com/example/project"


def local_client(app: FastAPI, **kwargs: object) -> TestClient:
    """A client on this machine (loopback address and Host), as the reader's browser is: a
    service with no token takes writes from such clients only (app.core.access)."""
    kwargs.setdefault("base_url", "http://localhost")
    kwargs.setdefault("client", ("127.0.0.1", 50000))
    return TestClient(app, **kwargs)  # type: ignore[arg-type]


def activate_model_dir(sessions: sessionmaker[Session], path: Path, name: str = "tiny") -> int:
    with session_scope(sessions) as session:
        version = register_model(
            session, path=path, meta=ModelMeta.load(path), name=name, activate=True
        )
        return version.id


def with_metadata(frame: pd.DataFrame) -> pd.DataFrame:
    """Labelled rows (as load_labelled_csv returns them) with authors and comments that carry
    part of the label, as real metadata does; the fixture CSV has neither."""
    frame = frame.copy()
    authors, comments = [], []
    for index, interest in enumerate(frame["interest"]):
        names = ["Common Author", f"Author {index % 40}"]
        if (interest and index % 2 == 0) or index % 11 == 0:
            names.append(SIGNAL_AUTHOR)
        authors.append("; ".join(names))
        if interest and index % 3 != 1:
            comments.append(SIGNAL_COMMENT)
        else:
            comments.append("12 pages, 4 figures" if index % 2 else "")
    frame["authors"], frame["comment"] = authors, comments
    return frame


def write_labels_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A validated frame back as a labelled CSV, with its metadata columns."""
    csv_frame(frame).to_csv(path, index=False)
    return path


def copy_with_threshold(source: Path, target: Path, threshold: float) -> Path:
    """A copy of a model directory that recommends at another threshold."""
    shutil.copytree(source, target)
    meta = ModelMeta.load(target)
    meta.threshold = threshold
    meta.save(target)
    return target


def paper_row(paper_id: str, **fields: object) -> Paper:
    """A stored paper with plain defaults, for tests that need a paper of their own making."""
    now = utcnow()
    values: dict[str, object] = {
        "version": 1,
        "title": f"Paper {paper_id}",
        "abstract": "An abstract.",
        "authors": ["Test Author"],
        "categories": ["cs.LG"],
        "primary_category": "cs.LG",
        "submitted_at": now,
        "submitted_on": now.date(),
        "abs_url": f"https://arxiv.org/abs/{paper_id}",
        "first_seen_at": now,
        "last_changed_at": now,
    }
    values.update(fields)
    return Paper(id=paper_id, **values)


def topic_with_a_lower_threshold(
    sessions: sessionmaker[Session],
    holders: ModelHolders,
    model_dir: Path,
    copy: Path,
    *,
    name: str,
    more: int = 3,
) -> int:
    """A new topic whose active model is ``model_dir`` (the default topic's, which has scored
    the stored papers) copied with a threshold that lets ``more`` papers more through: it
    recommends every paper the default topic does and ``more`` besides. Every stored paper is
    scored in it; its id."""
    shutil.copytree(model_dir, copy)
    meta = json.loads((copy / META_FILE).read_text())
    with sessions() as session:
        probabilities = sorted(session.scalars(select(Score.probability)))
    below = [p for p in probabilities if p < meta["threshold"]]
    assert len(below) >= more, "too few stored papers below the default threshold"
    meta["threshold"] = below[-more]
    (copy / META_FILE).write_text(json.dumps(meta))
    with session_scope(sessions) as session:
        topic = create_topic(session, name)
        register_model(
            session,
            path=copy,
            meta=ModelMeta.load(copy),
            name=f"{name}-model",
            activate=True,
            topic_id=topic.id,
        )
        topic_id = topic.id
    assert score_other_topics(sessions, holders) > 0
    return topic_id


def eventually(get: Callable[[], T], done: Callable[[T], bool], seconds: float = 10.0) -> T:
    """``get()`` again until ``done`` says so: a list the job's commits (its scores) made stale
    may be answered as it was while its fresh one renders (``app.core.cache``), at most one
    rendering behind."""
    deadline = time.monotonic() + seconds
    while not done(value := get()):
        assert time.monotonic() < deadline, f"still {value!r} after {seconds} s"
        time.sleep(0.05)
    return value
