"""The rules of a stored score: current, recommended, on a listing day (see ``app.store``)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import QueryableAttribute

from app.store.schema import IngestRun, Paper, Score

# A listing day: one that ingestion fetched papers for. Papers that only arrived with a label
# import carry a date too, but they never make a day of their own.
LISTED_RUN = (IngestRun.status == "success", IngestRun.fetched > 0)


class ScoredBy(Protocol):
    """The model a query reads the scores of: its version and its threshold (a served
    ``app.serving.holder.LoadedModel`` is one; the store never needs the model itself)."""

    @property
    def version_id(self) -> int: ...

    @property
    def threshold(self) -> float: ...


def on_a_listing_day() -> ColumnElement[bool]:
    """A paper submitted on a listing day: one a day's list shows and ingestion scores."""
    return Paper.submitted_on.in_(select(IngestRun.day).where(*LISTED_RUN))


def is_recommended(probability: float | None, threshold: float) -> bool:
    """Recommended means scored, at or above the model's threshold."""
    return probability is not None and probability >= threshold


def current_score(model_version_id: int | QueryableAttribute[int]) -> ColumnElement[bool]:
    """Join condition of a paper and its score by a model, for the paper's current version: a
    newer version of the paper has no score until it is scored again."""
    return and_(
        Score.paper_id == Paper.id,
        Score.model_version_id == model_version_id,
        Score.paper_version == Paper.version,
    )
