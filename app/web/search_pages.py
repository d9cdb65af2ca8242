"""The reader's search page and "more like this" page, at the JSON API's own URLs (``/search``,
``/papers/{id}/similar``): a browser asking for a page gets one, any other client the API's JSON.

Their routers are matched before the API's (``app.main``); each route answers only a request
whose ``Accept`` names ``text/html``, as a browser's navigation does and ``fetch``, curl and the
API's clients do not.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Scope

from app.api.deps import ServicesDep, SessionDep, SettingsDep
from app.core.arxiv_ids import is_arxiv_id
from app.core.config import unknown_category
from app.runtime.services import Services
from app.serving.day import liked_elsewhere
from app.serving.holder import LoadedModel
from app.store import queries
from app.store.categories import followed_categories
from app.store.search import (
    MAX_QUERY_CHARS,
    FoundPaper,
    QueryError,
    SearchUnavailable,
    parse_query,
    search_papers,
    similar_papers,
    since_utc,
    with_labels_and_scores,
)
from app.web.templating import TEMPLATES
from app.web.topic import PageTopic, PageTopicDep

RESULTS = 50
SIMILAR = 20


class PageRoute(APIRoute):
    """A route that answers browsers only: requests that do not accept ``text/html`` go on to
    the next route with the same path, the API's."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE and "text/html" not in Headers(scope=scope).get("accept", ""):
            return Match.NONE, {}
        return match, child_scope


router = APIRouter(include_in_schema=False, route_class=PageRoute)

_VARY = {"Vary": "Accept"}


def html_page(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status, headers=_VARY)


def _items(session: Session, found: list[FoundPaper], topic_id: int) -> list[dict[str, Any]]:
    """Items of the card macro (_card.html), with the other topics that like each paper."""
    liked = liked_elsewhere(session, [f.paper for f in found], topic_id=topic_id)
    return [
        {
            "paper": f.paper,
            "probability": f.probability,
            "label": f.label,
            "elsewhere": liked.get(f.paper.id, []),
        }
        for f in found
    ]


def page_context(
    services: Services, session: Session, page_topic: PageTopic, loaded: LoadedModel | None
) -> dict[str, Any]:
    """What every page with the search header shows of the topic, its model and its labels."""
    return {
        "model": loaded,
        "token_required": services.access.token is not None,
        "labels": queries.label_count(session, topic_id=page_topic.topic.id),
        "page_topic": page_topic,
        "topic_query": page_topic.query,
    }


_TIME = TypeAdapter(dt.datetime)


def _since(value: str) -> dt.datetime | None:
    """``since`` as the API reads it (ISO 8601, a date alone, no zone: UTC); ValueError."""
    if not value:
        return None
    try:
        return since_utc(_TIME.validate_python(value))
    except ValidationError:
        raise ValueError(f"since={value!r} is not a time (YYYY-MM-DD or ISO 8601)") from None


def _utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_form(
    categories: list[str],
    *,
    q: str = "",
    category: str = "",
    unlabelled: bool = False,
    since: str = "",
    since_time: dt.datetime | None = None,
) -> dict[str, Any]:
    """The search box's fields and choices (_search_form.html)."""
    now = dt.datetime.now(dt.timezone.utc)
    choices = [("", "any time")] + [
        (_utc_text(now - dt.timedelta(days=days)), text)
        for days, text in ((1, "last 24 hours"), (7, "last 7 days"), (30, "last 30 days"))
    ]
    if since and since_time is not None:
        choices.append((since, f"since {since_time:%Y-%m-%d %H:%M} UTC"))
    return {
        "q": q,
        "category": category,
        "categories": sorted(categories),
        "unlabelled": unlabelled,
        "since": since,
        "since_choices": choices,
        "max_chars": MAX_QUERY_CHARS,
    }


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    settings: SettingsDep,
    page_topic: PageTopicDep,
    q: Annotated[str, Query()] = "",
    category: Annotated[str, Query()] = "",
    unlabelled: Annotated[str, Query()] = "",
    since: Annotated[str, Query()] = "",
) -> HTMLResponse:
    """Stored papers matching the query, best first, each labelled on the spot."""
    topic_id = page_topic.topic.id
    loaded = services.holders[topic_id].get()
    followed = followed_categories(session, settings)
    only_unlabelled = unlabelled.lower() in ("true", "1", "on", "yes")
    context: dict[str, Any] = {
        **page_context(services, session, page_topic, loaded),
        "form": search_form(followed, q=q, category=category, unlabelled=only_unlabelled),
        "since_time": None,
        "items": None,
        "error": page_topic.error,
        "limit": RESULTS,
    }
    if not q.strip():
        return html_page(request, "search.html", context)
    try:
        parsed = parse_query(q)
        problem = unknown_category(category) if category else None
        if problem is not None:
            raise QueryError(problem)
        since_time = _since(since)
        context["since_time"] = since_time
        context["form"] = search_form(
            followed,
            q=q,
            category=category,
            unlabelled=only_unlabelled,
            since=since,
            since_time=since_time,
        )
        papers = search_papers(
            session,
            query=parsed,
            category=category or None,
            unlabelled=only_unlabelled,
            since=since_time,
            limit=RESULTS,
            topic_id=topic_id,
        )
    except ValueError as err:  # QueryError too
        context["error"] = str(err)
        return html_page(request, "search.html", context, status=422)
    except SearchUnavailable as err:
        context["error"] = str(err)
        return html_page(request, "search.html", context, status=503)
    found = with_labels_and_scores(session, papers, model=loaded, topic_id=topic_id)
    context["items"] = _items(session, found, topic_id)
    return html_page(request, "search.html", context)


@router.get("/papers/{paper_id:path}/similar", response_class=HTMLResponse)
def similar_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    settings: SettingsDep,
    page_topic: PageTopicDep,
    paper_id: str,
) -> HTMLResponse:
    """The stored papers most like one paper, each labelled on the spot."""
    topic_id = page_topic.topic.id
    loaded = services.holders[topic_id].get()
    paper = queries.get_paper(session, paper_id=paper_id) if is_arxiv_id(paper_id) else None
    context: dict[str, Any] = {
        **page_context(services, session, page_topic, loaded),
        "paper_id": paper_id,
        "paper_item": None,
        "items": [],
        "form": search_form(followed_categories(session, settings)),
        "error": page_topic.error,
    }
    if paper is None:
        return html_page(request, "similar.html", context, status=404)
    (context["paper_item"],) = _items(
        session, with_labels_and_scores(session, [paper], model=loaded, topic_id=topic_id), topic_id
    )
    try:
        similar = similar_papers(session, paper=paper, limit=SIMILAR)
    except SearchUnavailable as err:
        context["error"] = str(err)
        return html_page(request, "similar.html", context, status=503)
    found = with_labels_and_scores(session, similar, model=loaded, topic_id=topic_id)
    context["items"] = _items(session, found, topic_id)
    return html_page(request, "similar.html", context)
