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
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Scope

from app.api.deps import HolderDep, ServicesDep, SessionDep, SettingsDep
from app.core.arxiv_ids import is_arxiv_id
from app.core.config import unknown_category
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


def _items(found: list[FoundPaper]) -> list[dict[str, Any]]:
    """Items of the card macro (_card.html)."""
    return [{"paper": f.paper, "probability": f.probability, "label": f.label} for f in found]


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
    holder: HolderDep,
    settings: SettingsDep,
    q: Annotated[str, Query()] = "",
    category: Annotated[str, Query()] = "",
    unlabelled: Annotated[str, Query()] = "",
    since: Annotated[str, Query()] = "",
) -> HTMLResponse:
    """Stored papers matching the query, best first, each labelled on the spot."""
    loaded = holder.get()
    followed = followed_categories(session, settings)
    only_unlabelled = unlabelled.lower() in ("true", "1", "on", "yes")
    context: dict[str, Any] = {
        "form": search_form(followed, q=q, category=category, unlabelled=only_unlabelled),
        "since_time": None,
        "model": loaded,
        "token_required": services.access.token is not None,
        "labels": queries.label_count(session),
        "items": None,
        "error": None,
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
        )
    except ValueError as err:  # QueryError too
        context["error"] = str(err)
        return html_page(request, "search.html", context, status=422)
    except SearchUnavailable as err:
        context["error"] = str(err)
        return html_page(request, "search.html", context, status=503)
    context["items"] = _items(with_labels_and_scores(session, papers, model=loaded))
    return html_page(request, "search.html", context)


@router.get("/papers/{paper_id:path}/similar", response_class=HTMLResponse)
def similar_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    holder: HolderDep,
    settings: SettingsDep,
    paper_id: str,
) -> HTMLResponse:
    """The stored papers most like one paper, each labelled on the spot."""
    loaded = holder.get()
    paper = queries.get_paper(session, paper_id=paper_id) if is_arxiv_id(paper_id) else None
    context: dict[str, Any] = {
        "paper_id": paper_id,
        "paper_item": None,
        "items": [],
        "form": search_form(followed_categories(session, settings)),
        "model": loaded,
        "token_required": services.access.token is not None,
        "labels": queries.label_count(session),
        "error": None,
    }
    if paper is None:
        return html_page(request, "similar.html", context, status=404)
    (context["paper_item"],) = _items(with_labels_and_scores(session, [paper], model=loaded))
    try:
        similar = similar_papers(session, paper=paper, limit=SIMILAR)
    except SearchUnavailable as err:
        context["error"] = str(err)
        return html_page(request, "similar.html", context, status=503)
    context["items"] = _items(with_labels_and_scores(session, similar, model=loaded))
    return html_page(request, "similar.html", context)
