from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from app.api.deps import ModelDep, SettingsDep
from app.api.schemas import (
    BatchScoreResponse,
    ModelVersionPublic,
    ScoreRequest,
    ScoreResponse,
    ScoreResult,
)
from app.scoring import is_recommended, score_inputs
from training.artifact import PaperInput

router = APIRouter(tags=["scoring"])


@router.post("/score", response_model=ScoreResponse | BatchScoreResponse)
def score(
    settings: SettingsDep,
    model: ModelDep,
    body: Annotated[
        ScoreRequest | list[ScoreRequest],
        Body(
            description="One paper, or a list of them (up to the configured cap): its abstract "
            "and optionally title, authors, categories and comment"
        ),
    ],
) -> ScoreResponse | BatchScoreResponse:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise HTTPException(422, "the list of abstracts is empty")
    if len(items) > settings.score_max_items:
        raise HTTPException(
            422, f"{len(items)} abstracts in one request; at most {settings.score_max_items}"
        )
    for index, item in enumerate(items):
        where = f"item {index}: " if isinstance(body, list) else ""
        if not item.abstract.strip():
            raise HTTPException(422, f"{where}abstract is empty")
        texts = [item.abstract, item.title, item.comment, *(item.authors or ())]
        size = sum(len(text or "") for text in (*texts, *(item.categories or ())))
        if size > settings.score_max_chars:
            raise HTTPException(
                422, f"{where}{size} characters; at most {settings.score_max_chars} are scored"
            )
    papers = [
        PaperInput(
            title=i.title,
            abstract=i.abstract,
            authors=tuple(i.authors or ()),
            categories=tuple(i.categories or ()),
            comment=i.comment,
        )
        for i in items
    ]
    probabilities = score_inputs(model, papers)
    results = [
        ScoreResult(probability=float(p), recommended=is_recommended(float(p), model.threshold))
        for p in probabilities
    ]
    version = ModelVersionPublic(
        id=model.version_id, name=model.name, method=model.method, threshold=model.threshold
    )
    if isinstance(body, list):
        return BatchScoreResponse(threshold=model.threshold, model=version, results=results)
    return ScoreResponse(**results[0].model_dump(), threshold=model.threshold, model=version)
