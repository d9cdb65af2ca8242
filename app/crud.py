"""Queries the API and the CLI share. Keyword-only, no HTTP here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.ingest.arxiv_source import split_version
from app.models import IngestRun, Label, Paper, Score


@dataclass
class DayRecommendations:
    rows: list[tuple[Paper, float | None]]
    total: int
    recommended: int
    pending: int


def latest_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.max(Paper.submitted_on)))


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
    score_join = and_(
        Score.paper_id == Paper.id,
        Score.model_version_id == model_version_id,
        Score.paper_version == Paper.version,
    )
    probability = Score.probability
    total, recommended, scored = session.execute(
        select(
            func.count(Paper.id),
            func.count(case((probability >= threshold, 1))),
            func.count(probability),
        )
        .select_from(Paper)
        .outerjoin(Score, score_join)
        .where(Paper.submitted_on == day)
    ).one()
    query = (
        select(Paper, probability)
        .outerjoin(Score, score_join)
        .where(Paper.submitted_on == day)
        .order_by(probability.desc().nulls_last(), Paper.id)
    )
    if not include_all:
        query = query.where(probability >= threshold)
    if limit is not None:
        query = query.limit(limit)
    rows: list[tuple[Paper, float | None]] = [
        (paper, prob) for paper, prob in session.execute(query).all()
    ]
    return DayRecommendations(
        rows=rows, total=total, recommended=recommended, pending=total - scored
    )


def get_paper(session: Session, *, paper_id: str) -> Paper | None:
    return session.get(Paper, split_version(paper_id)[0])


def paper_score(session: Session, *, paper: Paper, model_version_id: int) -> float | None:
    return session.scalar(
        select(Score.probability).where(
            Score.paper_id == paper.id,
            Score.model_version_id == model_version_id,
            Score.paper_version == paper.version,
        )
    )


def table_counts(session: Session) -> dict[str, int]:
    return {
        "papers": session.scalar(select(func.count(Paper.id))) or 0,
        "scores": session.scalar(select(func.count(Score.id))) or 0,
        "labels": session.scalar(select(func.count(Label.paper_id))) or 0,
        "ingest_runs": session.scalar(select(func.count(IngestRun.id))) or 0,
    }


def recent_runs(session: Session, *, limit: int = 10) -> list[IngestRun]:
    return list(session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)))


def latest_runs_by_day(session: Session, *, days: int) -> list[IngestRun]:
    """The newest run of each of the last ``days`` ingested days."""
    newest = (
        select(func.max(IngestRun.id)).group_by(IngestRun.day).order_by(IngestRun.day.desc())
    ).limit(days)
    return list(
        session.scalars(select(IngestRun).where(IngestRun.id.in_(newest)).order_by(IngestRun.day))
    )


def adjacent_days(session: Session, *, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest earlier and later days that have papers."""
    earlier = session.scalar(select(func.max(Paper.submitted_on)).where(Paper.submitted_on < day))
    later = session.scalar(select(func.min(Paper.submitted_on)).where(Paper.submitted_on > day))
    return earlier, later


def labels_of(session: Session, *, paper_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(Label.paper_id, Label.interest).where(Label.paper_id.in_(paper_ids))
    ).all()
    return {paper_id: interest for paper_id, interest in rows}


def recent_recommendations(
    session: Session, *, model_version_id: int, threshold: float, days: int
) -> list[tuple[Paper, float]]:
    """Papers at or above the threshold on the last ``days`` days that have papers."""
    recent = (
        select(Paper.submitted_on)
        .group_by(Paper.submitted_on)
        .order_by(Paper.submitted_on.desc())
        .limit(days)
    )
    rows = session.execute(
        select(Paper, Score.probability)
        .join(
            Score,
            and_(
                Score.paper_id == Paper.id,
                Score.model_version_id == model_version_id,
                Score.paper_version == Paper.version,
            ),
        )
        .where(Paper.submitted_on.in_(recent), Score.probability >= threshold)
        .order_by(Paper.submitted_on.desc(), Score.probability.desc())
    ).all()
    return [(paper, probability) for paper, probability in rows]
