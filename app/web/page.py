"""The reader's page: a day's papers, best first, with one-click labels."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.api.deps import HolderDep, ServicesDep, SessionDep, SettingsDep
from app.jobs.retrain import label_progress, last_retrain
from app.runtime.health import NO_MODEL, service_problems
from app.serving.reasons import reasons_for
from app.serving.registry import active_model
from app.serving.scoring import list_model, rescoring_progress
from app.store import queries
from app.store.rules import is_recommended
from app.web.templating import STATIC_DIR, TEMPLATES

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The icon every page links (static/favicon.svg), also where browsers look by themselves:
    the API's documentation, a JSON answer opened in a tab."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get("/", response_class=HTMLResponse)
def index(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    holder: HolderDep,
    settings: SettingsDep,
    date: Annotated[str | None, Query()] = None,
    all: Annotated[bool, Query()] = False,  # noqa: A002
) -> HTMLResponse:
    error = None
    day: dt.date | None = None
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            error = f"{date!r} is not a date (YYYY-MM-DD); showing the latest day instead."
    day = day or queries.latest_day(session)
    loaded = holder.get()
    version = active_model(session)
    runs = queries.recent_runs(session, limit=1)
    context: dict[str, object] = {
        "day": day,
        "show_all": all or loaded is None,
        "model": loaded,
        "version": version,
        "last_run": runs[0] if runs else None,
        "error": error,
        # The page's own "Getting started" says how to get a model.
        "problems": [p for p in service_problems(session, services) if p != NO_MODEL],
        "token_required": services.access.token is not None,
        "counts": queries.table_counts(session),
        "papers": [],
        "result": None,
        "previous_day": None,
        "next_day": None,
        "ingested": False,
        "listed": None,
        "last_retrain": last_retrain(session),
        "progress": label_progress(session),
        "daily_picks": settings.early_daily_picks,
        "rescoring": rescoring_progress(session, active=loaded) if loaded is not None else None,
    }
    if day is not None:
        context["previous_day"], context["next_day"] = queries.adjacent_days(session, day=day)
        context["ingested"] = queries.day_was_ingested(session, day=day)
        listed = list_model(session, day=day, active=loaded) if loaded is not None else None
        context["listed"] = listed
        result = queries.day_recommendations(
            session,
            day=day,
            model_version_id=listed.version_id if listed else -1,
            threshold=listed.threshold if listed else 0.0,
            include_all=bool(context["show_all"]),
            limit=None,
        )
        labels = queries.labels_of(session, paper_ids=[paper.id for paper, _ in result.rows])
        reasons = (
            reasons_for(
                session,
                loaded,
                [p for p, prob in result.rows if is_recommended(prob, listed.threshold)],
            )
            if loaded is not None and listed is not None
            else {}
        )
        context["result"] = result
        context["papers"] = [
            {
                "paper": paper,
                "probability": probability,
                "recommended": listed is not None and is_recommended(probability, listed.threshold),
                "label": labels.get(paper.id),
                "reasons": reasons.get(paper.id, []),
            }
            for paper, probability in result.rows
        ]
    return TEMPLATES.TemplateResponse(request, "index.html", context)
