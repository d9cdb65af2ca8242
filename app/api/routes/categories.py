"""The followed arXiv categories (app.store.categories): read them, replace them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy.orm import Session

from app.api.deps import ServicesDep, SessionDep, SettingsDep, SharedWriterDep, ViewerDep
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import CategoriesRequest, CategoriesResponse, CategoryBackfillPublic
from app.jobs.scheduler import utc_today
from app.runtime.services import Services
from app.store import queries
from app.store.categories import (
    BACKFILL_TRIGGER,
    CategoryChange,
    CategoryError,
    backfill_days,
    backfill_message,
    backfill_status,
    followed_categories,
    plan_change,
    store_change,
    stored_categories,
)

router = APIRouter(tags=["categories"], route_class=JSONRoute)

BUSY = (
    "an ingestion is running, and the new categories' recent days can be fetched only after "
    "it: nothing was changed; save them again when it is done (its runs are in /status)"
)


def categories_answer(
    session: Session, services: Services, change: CategoryChange | None = None
) -> CategoriesResponse:
    """The followed categories and the state of the last added ones' backfill."""
    settings = services.settings
    status = backfill_status(session, job_running=services.job.is_running)
    return CategoriesResponse(
        categories=followed_categories(session, settings),
        source="database" if stored_categories(session) else "environment",
        environment=list(settings.categories),
        added=change.added if change is not None else [],
        removed=change.removed if change is not None else [],
        backfill=CategoryBackfillPublic(**vars(status), message=backfill_message(status))
        if status is not None
        else None,
    )


@router.get(
    "/categories",
    response_model=CategoriesResponse,
    dependencies=[ViewerDep],
    responses=error_responses(*READER_ERRORS),
)
def get_categories(services: ServicesDep, session: SessionDep) -> CategoriesResponse:
    """The followed categories: those stored with `PUT /categories`, or ARXIV_RECO_CATEGORIES
    while none are; and how the fetch of the last added ones' recent days went."""
    return categories_answer(session, services)


@router.put(
    "/categories",
    response_model=CategoriesResponse,
    dependencies=[SharedWriterDep],
    responses=error_responses(
        *WRITE_ERRORS,
        409,
        413,
        notes={409: "Categories were added while an ingestion runs: nothing is changed"},
    ),
)
def put_categories(
    body: CategoriesRequest, services: ServicesDep, session: SessionDep, settings: SettingsDep
) -> CategoriesResponse:
    """Follow exactly these categories from now on (422 names each unknown one). The added
    ones' last days (up to the newest listed day) are fetched in the background at once, as
    `POST /ingest` does; `backfill` says how far it got. A removed one is no longer fetched,
    and its stored papers stay."""
    try:
        change = plan_change(session, settings, body.categories)
    except CategoryError as err:
        raise validation_error(("body", "categories"), str(err)) from None
    backfill = None
    if change.added:
        backfill = backfill_days(
            queries.latest_day(session), today=utc_today(), max_days=settings.max_ingest_days
        )
    store_change(session, change, backfill=backfill)
    if backfill is not None and not services.job.start_range(
        *backfill, trigger=BACKFILL_TRIGGER, categories=change.added
    ):
        session.rollback()
        raise HTTPException(409, BUSY)
    session.commit()
    return categories_answer(session, services, change)
