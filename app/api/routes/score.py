from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeAlias

from fastapi import APIRouter, Body

from app.api.deps import SettingsDep, TopicHolderDep, require_model
from app.api.errors import READER_ERRORS, JSONRoute, error_responses, one_or_many, validation_error
from app.api.schemas import (
    BatchScoreResponse,
    ModelVersionPublic,
    ScoreRequest,
    ScoreResponse,
    ScoreResult,
)
from app.serving.scoring import score_inputs
from app.store.rules import is_recommended
from training.inference.artifact import PaperInput

router = APIRouter(
    tags=["scoring"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

if TYPE_CHECKING:
    ScoreBody: TypeAlias = ScoreRequest | list[ScoreRequest]
else:  # one paper or a list, each refused once when wrong
    ScoreBody = one_or_many(ScoreRequest)


@router.post(
    "/score",
    response_model=ScoreResponse | BatchScoreResponse,
    responses=error_responses(
        404, 409, 413, 503, notes={404: "No topic of that name", 409: "The topic has no model yet"}
    ),
)
def score(
    settings: SettingsDep,
    holder: TopicHolderDep,
    body: Annotated[
        ScoreBody,
        Body(
            description="One paper, or a list of them (up to the configured cap): its abstract "
            "and optionally title, authors, categories and comment"
        ),
    ],
) -> ScoreResponse | BatchScoreResponse:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise validation_error(("body",), "the list of abstracts is empty")
    if len(items) > settings.score_max_items:
        raise validation_error(
            ("body",), f"{len(items)} abstracts in one request; at most {settings.score_max_items}"
        )
    for index, item in enumerate(items):
        where: tuple[str | int, ...] = ("body", index) if isinstance(body, list) else ("body",)
        if not item.abstract.strip():
            raise validation_error((*where, "abstract"), "the abstract is empty")
        texts = [item.abstract, item.title, item.comment, *(item.authors or ())]
        size = sum(len(text or "") for text in (*texts, *(item.categories or ())))
        if size > settings.score_max_chars:
            raise validation_error(
                where, f"{size} characters; at most {settings.score_max_chars} are scored"
            )
    # Only now: bad input is a 422 whether a model is active or not.
    model = require_model(holder)
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
