"""A day's list, written once for the API, the page and the digest: the day's papers best
first with the scores of the model the list shows, whether each is recommended, and on request
the reader's labels and the reasons beside the recommended ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.serving.holder import LoadedModel
from app.serving.reasons import reasons_for
from app.serving.registry import active_model, version_threshold
from app.store import queries
from app.store.rules import current_score, is_recommended
from app.store.schema import DEFAULT_TOPIC_ID, FIRST_READER_ID, ModelVersion, Paper, Score, Topic
from app.store.topics import list_topics


@dataclass(frozen=True)
class ListModel:
    """The model whose scores a day's list shows: the active one, or while a newly activated
    model re-scores the stored days, the previous one for a day it has not reached yet."""

    version_id: int
    name: str
    method: str
    threshold: float
    rescoring: bool  # True when this is not the active model: the day awaits the new one


def list_model(session: Session, *, day: dt.date, active: LoadedModel) -> ListModel:
    """Only the active model's topic's versions count: another topic's scores never stand in."""
    counts = dict(
        session.execute(
            select(Score.model_version_id, func.count(Score.id))
            .join(Paper, current_score(Score.model_version_id))
            .join(ModelVersion, ModelVersion.id == Score.model_version_id)
            .where(Paper.submitted_on == day, ModelVersion.topic_id == active.topic_id)
            .group_by(Score.model_version_id)
        ).all()
    )
    serving = ListModel(active.version_id, active.name, active.method, active.threshold, False)
    papers = session.scalar(select(func.count(Paper.id)).where(Paper.submitted_on == day)) or 0
    scored_by_active = counts.pop(active.version_id, 0)
    if scored_by_active >= papers or not counts:
        return serving
    previous_id, scored = max(counts.items(), key=lambda item: (item[1], item[0]))
    previous = session.get(ModelVersion, previous_id)
    threshold = version_threshold(previous) if previous is not None else None
    if previous is None or threshold is None or scored <= scored_by_active:
        return serving
    return ListModel(previous.id, previous.name, previous.method, threshold, True)


@dataclass(frozen=True)
class ListedPaper:
    paper: Paper
    probability: float | None  # None: not scored by the listed model yet
    recommended: bool
    label: int | None  # the reader's label; None also when labels were not asked for
    reasons: list[str] | None  # for a recommended paper, when reasons were asked for
    elsewhere: list[str] | None = None  # the other topics that recommend it, when asked for


@dataclass(frozen=True)
class DayList:
    day: dt.date
    listed: ListModel | None  # the model whose scores are shown; None: no model is active
    papers: list[ListedPaper]
    total: int  # papers stored for the day
    recommended: int
    pending: int  # not scored by the listed model yet


def list_day(
    session: Session,
    *,
    day: dt.date,
    model: LoadedModel | None,
    include_all: bool = False,
    limit: int | None = None,
    labels: bool = False,
    explain: bool = False,
    topic_id: int | None = None,
    elsewhere: bool = False,
) -> DayList:
    """``day``'s papers, best first: the recommended ones (every paper with ``include_all``, or
    with no model), at most ``limit``; ``labels`` adds the reader's labels, ``explain`` the
    reasons of the recommended papers shown, ``elsewhere`` the other topics that like each."""
    listed = list_model(session, day=day, active=model) if model is not None else None
    result = queries.day_recommendations(
        session,
        day=day,
        model_version_id=listed.version_id if listed is not None else -1,
        threshold=listed.threshold if listed is not None else 0.0,
        include_all=include_all or listed is None,
        limit=limit,
    )

    def recommended(probability: float | None) -> bool:
        return listed is not None and is_recommended(probability, listed.threshold)

    shown = [paper for paper, _ in result.rows]
    reasons = (
        reasons_for(session, model, [p for p, prob in result.rows if recommended(prob)])
        if explain and model is not None
        else {}
    )
    topic_id = topic_id if topic_id is not None else (model.topic_id if model else DEFAULT_TOPIC_ID)
    label_of = (
        queries.labels_of(session, paper_ids=[p.id for p in shown], topic_id=topic_id)
        if labels
        else {}
    )
    liked = liked_elsewhere(session, shown, topic_id=topic_id) if elsewhere else {}
    return DayList(
        day=day,
        listed=listed,
        papers=[
            ListedPaper(
                paper=paper,
                probability=probability,
                recommended=recommended(probability),
                label=label_of.get(paper.id),
                reasons=reasons.get(paper.id),
                elsewhere=liked.get(paper.id, []) if elsewhere else None,
            )
            for paper, probability in result.rows
        ],
        total=result.total,
        recommended=result.recommended,
        pending=result.pending,
    )


def liked_elsewhere(
    session: Session, papers: Sequence[Paper], *, topic_id: int
) -> dict[str, list[str]]:
    """For each paper, the topics other than ``topic_id`` whose active model recommends it, in
    the reader's order: from the stored scores (a topic's version that has not scored a paper
    yet does not name it) and each version's threshold; no model is loaded for it."""
    ids = [paper.id for paper in papers]
    liked: dict[str, list[str]] = {}
    if not ids:
        return liked
    here = session.get(Topic, topic_id)
    reader_id = here.reader_id if here is not None else FIRST_READER_ID
    for topic in list_topics(session, reader_id):
        version = active_model(session, topic_id=topic.id) if topic.id != topic_id else None
        threshold = version_threshold(version) if version is not None else None
        if version is None or threshold is None:
            continue
        scored = session.execute(
            select(Paper.id, Score.probability)
            .join(Score, current_score(version.id))
            .where(Paper.id.in_(ids), Score.probability >= threshold)
        ).all()
        for paper_id, probability in scored:
            if is_recommended(probability, threshold):
                liked.setdefault(paper_id, []).append(topic.name)
    return liked
