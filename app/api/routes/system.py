from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import crud
from app.api.deps import HolderDep, SessionDep, SettingsDep
from app.api.schemas import (
    HealthResponse,
    IngestRunPublic,
    ModelStatus,
    ModelVersionPublic,
    StatusResponse,
)
from app.ml.registry import active_model

router = APIRouter(tags=["system"])


@router.get("/health", response_model=HealthResponse)
def health(session: SessionDep) -> HealthResponse:
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        raise HTTPException(503, f"database unavailable: {err}") from err
    return HealthResponse(status="ok", database="ok")


@router.get("/status", response_model=StatusResponse)
def status(
    request: Request, session: SessionDep, settings: SettingsDep, holder: HolderDep
) -> StatusResponse:
    loaded = holder.get()
    version = active_model(session)
    warnings: list[str] = []
    if version is None:
        warnings.append("no model is active: papers are stored but not scored")
    if holder.last_error:
        warnings.append(holder.last_error)
    for run in crud.latest_runs_by_day(session, days=settings.lookback_days + 4):
        if run.status == "failed":
            warnings.append(f"the last ingestion of {run.day} failed: {run.error}")
        elif run.status == "success" and run.fetched == 0 and run.day.weekday() < 5:
            warnings.append(f"arXiv listed no papers on weekday {run.day}")
    scheduler = getattr(request.app.state, "scheduler", None)
    job = scheduler.get_job("daily-ingest") if scheduler is not None else None
    next_run: dt.datetime | None = job.next_run_time if job is not None else None
    return StatusResponse(
        model=ModelStatus(
            version=ModelVersionPublic(
                id=version.id,
                name=version.name,
                method=version.method,
                threshold=version.threshold,
            )
            if version is not None
            else None,
            device=loaded.predictor.device if loaded is not None else None,
            scoring_path=loaded.predictor.scoring_path if loaded is not None else None,
            metrics=version.metrics if version is not None else {},
            load_error=holder.last_error,
        ),
        categories=settings.categories,
        schedule_cron=settings.schedule_cron,
        next_run_at=next_run,
        counts=crud.table_counts(session),
        last_runs=[IngestRunPublic.model_validate(r) for r in crud.recent_runs(session)],
        warnings=warnings,
    )
