"""What a search answers: each paper found with the reader's label and the model's score."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store import queries
from app.store.rules import ScoredBy, current_score, is_recommended
from app.store.schema import DEFAULT_TOPIC_ID, Paper, Score


@dataclass(frozen=True)
class FoundPaper:
    """A paper found, with the reader's label and the active model's score beside it."""

    paper: Paper
    label: int | None
    probability: float | None  # None: no model, or not scored in this version yet
    recommended: bool


def with_labels_and_scores(
    session: Session,
    papers: list[Paper],
    *,
    model: ScoredBy | None,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> list[FoundPaper]:
    ids = [p.id for p in papers]
    labels = queries.labels_of(session, paper_ids=ids, topic_id=topic_id)
    probabilities: dict[str, float] = {}
    if model is not None and ids:
        probabilities = dict(
            session.execute(
                select(Paper.id, Score.probability)
                .join(Score, current_score(model.version_id))
                .where(Paper.id.in_(ids))
            ).all()
        )
    return [
        FoundPaper(
            paper=p,
            label=labels.get(p.id),
            probability=probabilities.get(p.id),
            recommended=model is not None
            and is_recommended(probabilities.get(p.id), model.threshold),
        )
        for p in papers
    ]
