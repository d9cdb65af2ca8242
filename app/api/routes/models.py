from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict

from app.api.deps import SessionDep, WriterDep
from app.ml.registry import ModelVersionError, activate_model, list_models, rollback_model
from app.retrain import RetrainRunner

router = APIRouter(tags=["models"])


class ModelVersionDetail(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    method: str
    path: str
    threshold: float
    is_active: bool
    created_at: dt.datetime
    activated_at: dt.datetime | None
    metrics: dict[str, Any]


@router.get("/models", response_model=list[ModelVersionDetail])
def models(session: SessionDep) -> list[ModelVersionDetail]:
    return [ModelVersionDetail.model_validate(v) for v in list_models(session)]


@router.post(
    "/models/{version_id}/activate", response_model=ModelVersionDetail, dependencies=[WriterDep]
)
def activate(version_id: int, session: SessionDep) -> ModelVersionDetail:
    try:
        version = activate_model(session, version_id=version_id)
    except ModelVersionError as err:
        raise HTTPException(404, str(err)) from err
    session.commit()
    return ModelVersionDetail.model_validate(version)


@router.post("/models/rollback", response_model=ModelVersionDetail, dependencies=[WriterDep])
def rollback(session: SessionDep) -> ModelVersionDetail:
    try:
        version = rollback_model(session)
    except ModelVersionError as err:
        raise HTTPException(409, str(err)) from err
    session.commit()
    return ModelVersionDetail.model_validate(version)


def _runner(request: Request) -> RetrainRunner:
    return request.app.state.retrainer  # type: ignore[no-any-return]


@router.post("/retrain", status_code=202, dependencies=[WriterDep])
def start_retrain(request: Request, response: Response) -> dict[str, Any]:
    """Train on every stored label in the background; poll GET /retrain for the outcome."""
    if not _runner(request).start():
        raise HTTPException(409, "a retrain is already running")
    return _runner(request).state


@router.get("/retrain")
def retrain_state(request: Request) -> dict[str, Any]:
    return _runner(request).state
