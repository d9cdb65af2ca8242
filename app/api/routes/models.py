from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response

from app.api.deps import ServicesDep, SessionDep, SettingsDep, VersionIdPath, WriterDep
from app.api.errors import WRITE_ERRORS, JSONRoute, error_responses
from app.api.schemas import ModelVersionDetail
from app.jobs.lock import JobBusy
from app.serving.registry import (
    ModelNotServable,
    ModelVersionError,
    activate_model,
    list_models,
    rollback_model,
    version_threshold,
)
from app.store.schema import ModelVersion

router = APIRouter(tags=["models"], route_class=JSONRoute)


def _detail(version: ModelVersion) -> ModelVersionDetail:
    return ModelVersionDetail(
        id=version.id,
        name=version.name,
        method=version.method,
        path=version.path,
        threshold=version_threshold(version),
        is_active=version.is_active,
        created_at=version.created_at,
        activated_at=version.activated_at,
        metrics=version.metrics,
    )


@router.get("/models", response_model=list[ModelVersionDetail])
def models(session: SessionDep) -> list[ModelVersionDetail]:
    return [_detail(v) for v in list_models(session)]


@router.post(
    "/models/{version_id}/activate",
    response_model=ModelVersionDetail,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        404,
        409,
        notes={
            404: "No model version has this id, or its files are gone",
            409: "The model cannot be loaded or cannot score a test paper",
        },
    ),
)
def activate(
    version_id: VersionIdPath, session: SessionDep, settings: SettingsDep
) -> ModelVersionDetail:
    """Serve a model version; it is loaded and scores a test paper first (409 if it cannot)."""
    try:
        version = activate_model(
            session, version_id=version_id, verify=True, device=settings.device
        )
    except ModelNotServable as err:
        raise HTTPException(409, str(err)) from err
    except ModelVersionError as err:
        raise HTTPException(404, str(err)) from err
    session.commit()
    return _detail(version)


@router.post(
    "/models/rollback",
    response_model=ModelVersionDetail,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        409,
        notes={409: "No earlier model to roll back to, or it cannot be served"},
    ),
)
def rollback(session: SessionDep, settings: SettingsDep) -> ModelVersionDetail:
    try:
        version = rollback_model(session, verify=True, device=settings.device)
    except ModelVersionError as err:
        raise HTTPException(409, str(err)) from err
    session.commit()
    return _detail(version)


@router.post(
    "/retrain",
    status_code=202,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        409,
        notes={409: "A retrain, an ingestion or a re-scoring is running; the detail names it"},
    ),
)
def start_retrain(services: ServicesDep, response: Response) -> dict[str, Any]:
    """Train on every stored label in the background; poll GET /retrain for the outcome. Under
    the daily job's one lock, so never beside an ingestion or another retrain (CLI included)."""
    try:
        started = services.retrainer.start()
    except JobBusy as busy:  # the page shows it after "Retrain refused: "
        sentence = busy.plain()
        raise HTTPException(
            409, f"{sentence[0].upper()}{sentence[1:]}; retrain when it is done."
        ) from None
    if not started:
        raise HTTPException(409, "A retrain is already running; wait for its outcome.")
    return services.retrainer.state


@router.get("/retrain")
def retrain_state(services: ServicesDep) -> dict[str, Any]:
    return services.retrainer.state
