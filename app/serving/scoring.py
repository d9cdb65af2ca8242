"""Scoring papers with a model and storing the result (which model a day's list shows is
``app.serving.day``). Ingestion, the job, the routes and the page all come here. The rules of a
stored score (its current version, "recommended", listing days) are the store's:
``app.store.rules``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import session_scope
from app.serving.holder import LoadedModel
from app.store.rules import current_score, on_a_listing_day
from app.store.schema import Paper, Score, utcnow
from training.inference.artifact import PaperInput
from training.inference.predictor import score_papers
from training.inference.shared import SharedBatch

logger = logging.getLogger(__name__)

# Papers are read and scored SCORE_COMMIT_CHUNK at a time, and their scores committed together
# every SCORE_COMMIT_SECONDS (or SCORE_COMMIT_MAX_ROWS): each commit re-renders every cached day
# list of every process (app.core.cache), so a re-scoring of a year for many topics must not
# commit hundreds of times a minute; a crash loses at most those seconds of work.
SCORE_COMMIT_CHUNK = 256
SCORE_COMMIT_SECONDS = 2.0
SCORE_COMMIT_MAX_ROWS = 8192


def rescoring_progress(session: Session, *, active: LoadedModel) -> dict[str, int]:
    """The papers of the listing days and how many the active model has scored in their current
    version. Papers that only came with imported labels are on no day's list: they are scored
    with the rest when a new model re-scores everything (search shows their scores), but never
    counted as pending, since ingestion, which scores each day it fetches, never reaches them."""
    papers = session.scalar(select(func.count(Paper.id)).where(on_a_listing_day())) or 0
    scored = (
        session.scalar(
            select(func.count(Score.id))
            .join(Paper, current_score(active.version_id))
            .where(on_a_listing_day())
        )
        or 0
    )
    return {"papers": papers, "scored": scored}


def paper_score(session: Session, *, paper: Paper, model_version_id: int) -> float | None:
    return session.scalar(
        select(Score.probability).where(
            Score.paper_id == paper.id,
            Score.model_version_id == model_version_id,
            Score.paper_version == paper.version,
        )
    )


def unscored_exists(session: Session, *, version_id: int) -> bool:
    """Whether any stored paper lacks a score by the model version in its current version: a
    re-scoring with nothing to do is known from this one query, without starting its process."""
    missing = ~select(Score.id).where(current_score(version_id)).exists()
    return session.scalar(select(Paper.id).where(missing).limit(1)) is not None


def score_inputs(
    loaded: LoadedModel, papers: Sequence[PaperInput], *, progress: bool = False
) -> np.ndarray:
    """The served model's probability of interest for each paper, in order."""
    return score_papers(loaded.predictor, papers, progress=progress)


def score_pending(
    sessions: sessionmaker[Session],
    loaded: LoadedModel | Sequence[LoadedModel],
    *,
    days: Sequence[dt.date] | None,
    progress: bool = False,
    required: int = 1,
) -> int:
    """Score every paper of ``days`` (all days if None) that the model has not scored in its
    current version. Idempotent: what a crash left unscored is picked up next time.

    Several models (each topic's): a paper any of them has not scored is scored by all of them
    in one pass over the papers, the tfidf models sharing the work that depends on the papers
    alone (``training.inference.shared``). The failure of one of the first ``required`` models
    is raised; another's is logged and that model is left out of the rest (its topic catches up
    on its own later)."""
    models = [loaded] if isinstance(loaded, LoadedModel) else list(loaded)
    if not models:
        return 0
    unscored = [~select(Score.id).where(current_score(m.version_id)).exists() for m in models]
    # Which papers wait, newest day first, asked once: asked again for each chunk, the
    # anti-join walked every paper each time (PostgreSQL hashed every score of the model for
    # every chunk: 100 ms a chunk at 23,000 papers, a re-scoring quadratic in the papers).
    waiting_ids = select(Paper.id).where(or_(*unscored))
    if days is not None:
        waiting_ids = waiting_ids.where(Paper.submitted_on.in_(list(days)))
    with sessions() as session:
        pending_ids = list(
            session.scalars(waiting_ids.order_by(Paper.submitted_on.desc(), Paper.id))
        )
    waiting = len(pending_ids)
    if not waiting:
        return 0
    versions = ", ".join(str(m.version_id) for m in models)
    logger.info("scoring %d papers with model version %s", waiting, versions)
    # A committed chunk at a time, newest day first: a re-scoring reaches the days a reader
    # opens first, and never holds every pending abstract in memory.
    columns = select(
        Paper.id,
        Paper.title,
        Paper.abstract,
        Paper.version,
        Paper.authors,
        Paper.categories,
        Paper.comment,
    )
    total = 0
    pending: list[tuple[int, Sequence[Any], list[float]]] = []
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal last_commit
        if pending:
            with session_scope(sessions) as session:
                for version_id, rows, probabilities in pending:
                    _store_scores(session, version_id, rows, probabilities)
            pending.clear()
            logger.info("scored %d/%d", total, waiting)
        last_commit = time.monotonic()

    try:  # what was scored before a failure is kept
        for first in range(0, waiting, SCORE_COMMIT_CHUNK):
            ids = pending_ids[first : first + SCORE_COMMIT_CHUNK]
            with sessions() as session:
                found = {row.id: row for row in session.execute(columns.where(Paper.id.in_(ids)))}
            chunk = [found[paper_id] for paper_id in ids if paper_id in found]  # none deleted
            if not chunk:
                continue
            scored = _score_chunk(models, chunk, progress=progress, required=models[:required])
            if not scored:  # every model failed (none was required): nothing more to do
                break
            for model, probabilities in scored:
                pending.append((model.version_id, chunk, probabilities.tolist()))
            total += len(chunk)
            held = sum(len(rows) for _, rows, _ in pending)
            due = time.monotonic() - last_commit >= SCORE_COMMIT_SECONDS
            if due or held >= SCORE_COMMIT_MAX_ROWS:
                commit()
    finally:
        commit()
    return total


def _score_chunk(
    models: list[LoadedModel],
    chunk: Sequence[Any],
    *,
    progress: bool,
    required: list[LoadedModel],
) -> list[tuple[LoadedModel, np.ndarray]]:
    """Each model's scores of the chunk; a model not ``required`` that fails is logged and
    dropped from ``models``."""
    papers = [paper_input(row) for row in chunk]
    if len(models) == 1 and required:
        return [(models[0], score_inputs(models[0], papers, progress=progress))]
    batch = SharedBatch(papers)
    scored = []
    for model in list(models):
        try:
            scored.append(
                (
                    model,
                    score_papers(model.predictor, batch.papers, progress=progress, shared=batch),
                )
            )
        except Exception:
            if any(model is needed for needed in required):
                raise
            logger.exception(
                "model version %d (topic %d) failed to score; its topic catches up later",
                model.version_id,
                model.topic_id,
            )
            models.remove(model)
    return scored


def paper_input(row: Any) -> PaperInput:
    """What a model reads of a stored paper (a Paper or a row with its columns)."""
    return PaperInput(
        title=row.title,
        abstract=row.abstract,
        authors=tuple(row.authors or ()),
        categories=tuple(row.categories or ()),
        comment=row.comment,
    )


def _store_scores(
    session: Session, version_id: int, rows: Sequence[object], probabilities: list[float]
) -> None:
    ids = [row.id for row in rows]  # type: ignore[attr-defined]
    existing = {
        s.paper_id: s
        for s in session.scalars(
            select(Score).where(Score.model_version_id == version_id, Score.paper_id.in_(ids))
        )
    }
    now = utcnow()
    for row, probability in zip(rows, probabilities, strict=True):
        score = existing.get(row.id)  # type: ignore[attr-defined]
        if score is None:
            score = Score(paper_id=row.id, model_version_id=version_id)  # type: ignore[attr-defined]
            session.add(score)
        score.probability = float(probability)
        score.paper_version = row.version  # type: ignore[attr-defined]
        score.scored_at = now
