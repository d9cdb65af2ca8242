"""Queries the API and the CLI share. Keyword-only, no HTTP here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.arxiv_ids import split_version
from app.store.categories import BACKFILL_TRIGGER
from app.store.rules import LISTED_RUN, current_score, is_recommended
from app.store.schema import DEFAULT_TOPIC_ID, IngestRun, Label, Paper, Score


@dataclass
class DayRecommendations:
    rows: list[tuple[Paper, float | None]]
    total: int
    recommended: int
    pending: int


_LISTED = LISTED_RUN  # app.store.rules: a listing day


def latest_day(session: Session) -> dt.date | None:
    """The newest listing day."""
    return session.scalar(select(func.max(IngestRun.day)).where(*_LISTED))


def day_was_ingested(session: Session, *, day: dt.date) -> bool:
    run = select(IngestRun.id).where(IngestRun.day == day, IngestRun.status == "success")
    paper = select(Paper.id).where(Paper.submitted_on == day)
    return session.scalar(run.limit(1)) is not None or session.scalar(paper.limit(1)) is not None


def day_recommendations(
    session: Session,
    *,
    day: dt.date,
    model_version_id: int,
    threshold: float,
    include_all: bool,
    limit: int | None,
) -> DayRecommendations:
    """A day's papers with the model's probability, best first (unscored last).

    One narrow query reads each paper's id and score for the day (the ``submitted_on`` index, then
    the score by its unique key); counting, filtering and ordering a day of a few hundred rows
    happens here, and only the papers shown are loaded. Filtering by probability in SQL instead
    leads SQLite to walk the score index across every day, which a year of papers makes slow.
    """
    scored = session.execute(
        select(Paper.id, Score.probability)
        .outerjoin(Score, current_score(model_version_id))
        .where(Paper.submitted_on == day)
    ).all()
    recommended = sum(1 for _, prob in scored if is_recommended(prob, threshold))
    pending = sum(1 for _, prob in scored if prob is None)
    shown = [
        (paper_id, prob)
        for paper_id, prob in scored
        if include_all or is_recommended(prob, threshold)
    ]
    shown.sort(key=lambda row: (row[1] is None, -(row[1] or 0.0), row[0]))
    if limit is not None:
        shown = shown[:limit]
    wanted = (
        Paper.submitted_on == day
        if len(shown) == len(scored)
        else Paper.id.in_([pid for pid, _ in shown])
    )
    papers = {paper.id: paper for paper in session.scalars(select(Paper).where(wanted))}
    return DayRecommendations(
        rows=[(papers[pid], prob) for pid, prob in shown],
        total=len(scored),
        recommended=recommended,
        pending=pending,
    )


def get_paper(session: Session, *, paper_id: str) -> Paper | None:
    return session.get(Paper, split_version(paper_id)[0])


def table_counts(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> dict[str, int]:
    """The stored rows; the labels are the topic's."""
    return {
        "papers": session.scalar(select(func.count(Paper.id))) or 0,
        "scores": session.scalar(select(func.count(Score.id))) or 0,
        "labels": label_count(session, topic_id=topic_id),
        "ingest_runs": session.scalar(select(func.count(IngestRun.id))) or 0,
    }


def label_count(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> int:
    """The labels of a topic."""
    count = select(func.count(Label.paper_id)).where(Label.topic_id == topic_id)
    return session.scalar(count) or 0


def recent_runs(session: Session, *, limit: int = 10) -> list[IngestRun]:
    return list(session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)))


def latest_runs_by_day(session: Session, *, days: int) -> list[IngestRun]:
    """The newest run of each of the last ``days`` ingested days that fetched every followed
    category (a new category's backfill fetches only it, and says nothing of the day's others)."""
    newest = (
        select(func.max(IngestRun.id))
        .where(IngestRun.trigger != BACKFILL_TRIGGER)
        .group_by(IngestRun.day)
        .order_by(IngestRun.day.desc())
    ).limit(days)
    return list(
        session.scalars(select(IngestRun).where(IngestRun.id.in_(newest)).order_by(IngestRun.day))
    )


def adjacent_days(session: Session, *, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest earlier and later listing days."""
    earlier = session.scalar(select(func.max(IngestRun.day)).where(*_LISTED, IngestRun.day < day))
    later = session.scalar(select(func.min(IngestRun.day)).where(*_LISTED, IngestRun.day > day))
    return earlier, later


def labels_of(
    session: Session, *, paper_ids: list[str], topic_id: int = DEFAULT_TOPIC_ID
) -> dict[str, int]:
    """The papers' labels in a topic, by paper id (unlabelled papers are absent)."""
    rows = session.execute(
        select(Label.paper_id, Label.interest).where(
            Label.topic_id == topic_id, Label.paper_id.in_(paper_ids)
        )
    ).all()
    return {paper_id: interest for paper_id, interest in rows}


def recent_recommendations(
    session: Session, *, model_version_id: int, threshold: float, days: int
) -> list[tuple[Paper, float]]:
    """Papers at or above the threshold on the last ``days`` listing days, newest day first,
    best first within a day (filtered here, as in :func:`day_recommendations`)."""
    recent = list(
        session.scalars(
            select(IngestRun.day)
            .where(*_LISTED)
            .group_by(IngestRun.day)
            .order_by(IngestRun.day.desc())
            .limit(days)
        )
    )
    # An outer join keeps SQLite starting from the days' papers rather than from every score.
    scored = session.execute(
        select(Paper.id, Paper.submitted_on, Score.probability)
        .outerjoin(Score, current_score(model_version_id))
        .where(Paper.submitted_on.in_(recent))
    ).all()
    shown = sorted(
        ((day, prob, pid) for pid, day, prob in scored if is_recommended(prob, threshold)),
        key=lambda row: (-row[0].toordinal(), -row[1], row[2]),
    )
    papers = {
        paper.id: paper
        for paper in session.scalars(select(Paper).where(Paper.id.in_([p for _, _, p in shown])))
    }
    return [(papers[pid], prob) for _, prob, pid in shown]


def listing_days(session: Session, *, after: dt.date | None = None) -> list[dt.date]:
    """Listing days later than ``after`` (every one when None), newest first."""
    query = select(IngestRun.day).where(*_LISTED).group_by(IngestRun.day)
    if after is not None:
        query = query.where(IngestRun.day > after)
    return list(session.scalars(query.order_by(IngestRun.day.desc())))
