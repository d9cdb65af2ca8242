"""The reader's page: a day's papers, best first, with one-click labels."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.api.deps import ServicesDep, SessionDep, SettingsDep
from app.jobs.retrain import label_progress, last_retrain
from app.runtime.health import NO_MODEL, NO_TOPIC_MODEL, service_problems
from app.serving.day import list_day
from app.serving.registry import active_model
from app.serving.scoring import rescoring_progress
from app.store import queries
from app.web.templating import STATIC_DIR, TEMPLATES
from app.web.topic import PageTopicDep

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
    settings: SettingsDep,
    page_topic: PageTopicDep,
    date: Annotated[str | None, Query()] = None,
    all: Annotated[bool, Query()] = False,  # noqa: A002
) -> HTMLResponse:
    errors = []
    day: dt.date | None = None
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            errors.append(f"{date!r} is not a date (YYYY-MM-DD); showing the latest day instead.")
    day = day or queries.latest_day(session)
    topic = page_topic.topic
    if page_topic.error:
        errors.append(page_topic.error)
    holder = services.holders[topic.id]
    loaded = holder.get()
    version = active_model(session, topic_id=topic.id)
    runs = queries.recent_runs(session, limit=1)
    context: dict[str, object] = {
        "day": day,
        "show_all": all or loaded is None,
        "model": loaded,
        "version": version,
        "last_run": runs[0] if runs else None,
        "error": " ".join(errors) or None,
        "topic": topic,
        "page_topic": page_topic,
        # Kept on the page's own links: the default topic's stay as they were.
        "topic_query": page_topic.query,
        # The page's own "Getting started" says how to get a model.
        "problems": [
            p
            for p in service_problems(session, services, topic_id=topic.id)
            if p not in (NO_MODEL, NO_TOPIC_MODEL)
        ],
        "token_required": services.access.token is not None,
        "counts": queries.table_counts(session, topic_id=topic.id),
        "papers": [],
        "result": None,
        "previous_day": None,
        "next_day": None,
        "ingested": False,
        "listed": None,
        "last_retrain": last_retrain(session, topic_id=topic.id),
        "progress": label_progress(session, topic_id=topic.id),
        "daily_picks": settings.early_daily_picks,
        "rescoring": rescoring_progress(session, active=loaded) if loaded is not None else None,
    }
    if day is not None:
        context["previous_day"], context["next_day"] = queries.adjacent_days(session, day=day)
        context["ingested"] = queries.day_was_ingested(session, day=day)
        result = list_day(
            session,
            day=day,
            model=loaded,
            include_all=all,
            labels=True,
            explain=True,
            topic_id=topic.id,
            elsewhere=True,
        )
        context["listed"] = result.listed
        context["result"] = result
        context["papers"] = result.papers
    return TEMPLATES.TemplateResponse(request, "index.html", context)
