from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from app.api.deps import (
    CallerDep,
    ServicesDep,
    SessionDep,
    SettingsDep,
    TopicDep,
    VersionIdPath,
    WriterDep,
)
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses, validation_error
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

router = APIRouter(
    tags=["models"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)


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


@router.get(
    "/models",
    response_model=list[ModelVersionDetail],
    responses=error_responses(404, notes={404: "No topic of that name"}),
)
def models(session: SessionDep, topic: TopicDep) -> list[ModelVersionDetail]:
    """The topic's model versions, newest first."""
    return [_detail(v) for v in list_models(session, topic_id=topic.id)]


@router.post(
    "/models/{version_id}/activate",
    response_model=ModelVersionDetail,
    dependencies=[WriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        404,
        409,
        notes={
            404: "No model version has this id in the topic, or its files are gone, or no "
            "topic of that name",
            409: "The model cannot be loaded or cannot score a test paper",
        },
    ),
)
def activate(
    version_id: VersionIdPath, session: SessionDep, settings: SettingsDep, topic: TopicDep
) -> ModelVersionDetail:
    """Serve a model version of the topic; it is loaded and scores a test paper first (409 if
    it cannot)."""
    try:
        version = activate_model(
            session,
            version_id=version_id,
            verify=True,
            device=settings.device,
            topic_id=topic.id,
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
        404,
        409,
        notes={
            404: "No topic of that name",
            409: "No earlier model to roll back to, or it cannot be served",
        },
    ),
)
def rollback(session: SessionDep, settings: SettingsDep, topic: TopicDep) -> ModelVersionDetail:
    """Serve the topic's previously active version again."""
    try:
        version = rollback_model(session, verify=True, device=settings.device, topic_id=topic.id)
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
        404,
        409,
        notes={
            404: "No topic of that name",
            409: "A retrain, an ingestion or a re-scoring is running; the detail names it",
        },
    ),
)
def start_retrain(
    services: ServicesDep, topic: TopicDep, caller: CallerDep, response: Response
) -> dict[str, Any]:
    """Train the topic's model on its labels in the background; poll GET /retrain for the
    outcome. Under the daily job's one lock, so never beside an ingestion or another retrain
    (CLI included)."""
    try:
        started = services.retrainer.start(
            topic_id=topic.id, topic=topic.name, reader_id=caller.reader_id
        )
    except JobBusy as busy:  # the page shows it after "Retrain refused: "
        sentence = busy.plain()
        raise HTTPException(
            409, f"{sentence[0].upper()}{sentence[1:]}; retrain when it is done."
        ) from None
    if not started:
        raise HTTPException(409, "A retrain is already running; wait for its outcome.")
    return services.retrainer.state_for(caller.reader_id)


@router.get("/retrain")
def retrain_state(
    services: ServicesDep,
    session: SessionDep,
    caller: CallerDep,
    since: Annotated[
        dt.datetime | None,
        Query(
            description="The started_at POST /retrain answered: until that retrain is "
            "recorded, it is answered as running"
        ),
    ] = None,
) -> dict[str, Any]:
    """The reader's last retrain started from the page or POST /retrain (one runs at a time,
    whatever its topic: ``topic``), wherever it ran: the web processes of ``serve --workers``
    answer alike. Another reader's retrain is never described."""
    if since is not None and since.tzinfo is None:
        raise validation_error(("query", "since"), "give the time with its zone, as POST /retrain")
    return services.retrainer.state_across_processes(session, caller.reader_id, since=since)
