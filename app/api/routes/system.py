from __future__ import annotations

import datetime as dt
import os
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import (
    ServicesDep,
    SessionDep,
    SettingsDep,
    SharedWriterDep,
    TopicDep,
    TopicHolderDep,
)
from app.api.errors import READER_ERRORS, WRITE_ERRORS, error_responses, validation_error
from app.api.schemas import (
    HealthResponse,
    IngestCancelled,
    IngestRunPublic,
    IngestStarted,
    LabelProgress,
    ModelStatus,
    ModelVersionPublic,
    ProcessStatus,
    RescoringStatus,
    ResponseCacheStatus,
    RetrainPublic,
    StatusResponse,
)
from app.core import heap
from app.core.db import DatabaseGone
from app.jobs.ingest import RangeError, check_range
from app.jobs.retrain import label_progress, last_retrain
from app.runtime.health import service_problems
from app.serving.registry import active_model, version_threshold
from app.serving.scoring import rescoring_progress
from app.store import queries
from app.store.categories import followed_categories

router = APIRouter(tags=["system"])

DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


@router.get(
    "/health",
    response_model=HealthResponse,
    responses=error_responses(503, notes={503: "The database cannot be used"}),
)
def health(services: ServicesDep, session: SessionDep) -> HealthResponse:
    """200 while the service can serve: ``ok``, or ``degraded`` with the problems to fix (no
    model, a broken model, failed or interrupted runs, a missed daily job, a failed backup);
    503 when the database cannot be used."""
    try:
        services.database.ping()
    except (SQLAlchemyError, DatabaseGone) as err:
        raise HTTPException(503, f"database unavailable: {err}") from err
    problems = service_problems(session, services, public=True)
    loaded = services.holder.get()
    return HealthResponse(
        status="degraded" if problems else "ok",
        database="ok",
        model="broken" if services.holder.last_error else ("ok" if loaded is not None else "none"),
        problems=problems,
    )


@router.get(
    "/status",
    response_model=StatusResponse,
    responses=error_responses(*READER_ERRORS, 404, notes={404: "No topic of that name"}),
)
def status(
    services: ServicesDep,
    session: SessionDep,
    settings: SettingsDep,
    holder: TopicHolderDep,
    topic: TopicDep,
) -> StatusResponse:
    """The service's state; the model, its re-scoring, the last retrain and the labels are the
    topic's (``?topic=``)."""
    loaded = holder.get()
    version = active_model(session, topic_id=topic.id)
    warnings = service_problems(session, services, topic_id=topic.id)
    scheduler = services.scheduler
    job = scheduler.get_job("daily-ingest") if scheduler is not None else None
    next_run: dt.datetime | None = job.next_run_time if job is not None else None
    retrain_run = last_retrain(session, topic_id=topic.id)
    progress = rescoring_progress(session, active=loaded) if loaded is not None else None
    if progress is not None and progress["scored"] < progress["papers"]:
        warnings.append(
            f"model {loaded.name if loaded else ''} has scored {progress['scored']} of the "
            f"{progress['papers']} papers of the listed days; days it has not reached keep the "
            "previous model's scores"
        )
    return StatusResponse(
        topic=topic.name,
        last_retrain=RetrainPublic.model_validate(retrain_run) if retrain_run else None,
        rescoring=RescoringStatus(**progress) if progress is not None else None,
        model=ModelStatus(
            version=ModelVersionPublic(
                id=version.id,
                name=version.name,
                method=version.method,
                threshold=loaded.threshold
                if loaded is not None and loaded.version_id == version.id
                else version_threshold(version),
            )
            if version is not None
            else None,
            device=loaded.predictor.device if loaded is not None else None,
            scoring_path=loaded.predictor.scoring_path if loaded is not None else None,
            metrics=version.metrics if version is not None else {},
            load_error=holder.last_error,
            regime=loaded.regime if loaded is not None else None,  # type: ignore[arg-type]
        ),
        labels=LabelProgress(**label_progress(session, topic_id=topic.id).as_dict()),
        categories=followed_categories(session, settings),
        schedule_cron=settings.schedule_cron,
        next_run_at=next_run,
        counts=queries.table_counts(session, topic_id=topic.id),
        last_runs=[IngestRunPublic.model_validate(r) for r in queries.recent_runs(session)],
        warnings=warnings,
        process=ProcessStatus(
            pid=os.getpid(),
            response_cache=ResponseCacheStatus(**services.response_cache.stats()),
            frozen_objects=heap.frozen(),
        ),
    )


@router.post(
    "/ingest",
    status_code=202,
    dependencies=[SharedWriterDep],
    responses=error_responses(
        *WRITE_ERRORS, 409, notes={409: "A job (an ingestion, a retrain) is running"}
    ),
)
def start_ingest(
    services: ServicesDep,
    settings: SettingsDep,
    date: Annotated[str, Query(pattern=DAY_PATTERN, description="First UTC day, YYYY-MM-DD")],
    to: Annotated[
        str | None, Query(pattern=DAY_PATTERN, description="Last UTC day (inclusive)")
    ] = None,
) -> IngestStarted:
    """Backfill days in the background, as `arxiv-reco ingest` does; see /status for the runs.
    At most ARXIV_RECO_MAX_INGEST_DAYS days, none in the future; `DELETE /ingest` cancels."""
    first = _day("date", date)
    last = _day("to", to) if to else first
    try:
        check_range(first, last, settings)
    except RangeError as err:
        raise validation_error(("query", "to" if to else "date"), str(err)) from None
    if not services.job.start_range(first, last, trigger="api"):
        holder = services.job.lock_holder().describe(process=False)
        raise HTTPException(409, f"not started: {holder} is already running; see /status")
    return IngestStarted(status="started", first=first, last=last)


def _day(field: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise validation_error(
            ("query", field), f"{value!r} is not a calendar day: {err}"
        ) from None


@router.delete(
    "/ingest",
    status_code=202,
    dependencies=[SharedWriterDep],
    responses=error_responses(*WRITE_ERRORS, 409, notes={409: "No ingestion is running"}),
)
def cancel_ingest(services: ServicesDep) -> IngestCancelled:
    """Stop the running ingestion (the daily job, an API or CLI backfill) after the day it is
    on; the days it did not reach are not fetched, and the next daily job goes on as usual."""
    if not services.job.cancel():
        raise HTTPException(409, "no ingestion is running")
    return IngestCancelled(status="cancelling")
