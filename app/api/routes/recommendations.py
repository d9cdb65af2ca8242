from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from app import crud
from app.api.deps import ModelDep, SessionDep
from app.api.schemas import ModelVersionPublic, PaperPublic, RecommendationsResponse, ScoredPaper

router = APIRouter(tags=["recommendations"])


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise HTTPException(422, f"date {value!r} is not a calendar day: {err}") from err


@router.get("/recommendations", response_model=RecommendationsResponse)
def recommendations(
    session: SessionDep,
    model: ModelDep,
    date: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="UTC day, YYYY-MM-DD; default: the latest day with papers",
        ),
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=5000)] = None,
    all: Annotated[bool, Query(description="Also list papers below the threshold")] = False,  # noqa: A002
) -> RecommendationsResponse:
    day = _parse_day(date) if date is not None else crud.latest_day(session)
    if day is None:
        raise HTTPException(404, "no papers have been ingested yet; run `arxiv-reco ingest`")
    if not crud.day_was_ingested(session, day=day):
        raise HTTPException(
            404, f"{day} has not been ingested; backfill it with `arxiv-reco ingest --date {day}`"
        )
    result = crud.day_recommendations(
        session,
        day=day,
        model_version_id=model.version_id,
        threshold=model.threshold,
        include_all=all,
        limit=limit,
    )
    papers = [
        ScoredPaper(
            **PaperPublic.model_validate(paper).model_dump(),
            probability=probability,
            recommended=probability is not None and probability >= model.threshold,
        )
        for paper, probability in result.rows
    ]
    return RecommendationsResponse(
        date=day,
        model=ModelVersionPublic(
            id=model.version_id, name=model.name, method=model.method, threshold=model.threshold
        ),
        threshold=model.threshold,
        total_papers=result.total,
        recommended=result.recommended,
        pending=result.pending,
        papers=papers,
    )
