"""Pages for a paper (``/papers/{id}``) and for the service's state (``/status``), at the JSON
API's own URLs: a browser asking for a page (``Accept: text/html``) gets one, any other client
the API's JSON, as with search (``app.web.search_pages.PageRoute``). Each page renders what the API
answers, so the two never disagree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.api.deps import ServicesDep, SessionDep, SettingsDep
from app.api.routes.papers import paper_detail
from app.api.routes.system import status as status_answer
from app.core.arxiv_ids import is_arxiv_id, split_version
from app.core.config import Settings
from app.runtime.services import Services
from app.store import queries
from app.store.categories import followed_categories
from app.web.search_pages import PageRoute, html_page, page_context, search_form
from app.web.topic import PageTopic, PageTopicDep

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _header(
    services: Services, session: Session, settings: Settings, page_topic: PageTopic
) -> dict[str, Any]:
    """What the pages' header (_search_form.html) shows."""
    loaded = services.holders[page_topic.topic.id].get()
    return {
        **page_context(services, session, page_topic, loaded),
        "form": search_form(followed_categories(session, settings)),
    }


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    settings: SettingsDep,
    page_topic: PageTopicDep,
    paper_id: str,
) -> HTMLResponse:
    """One stored paper: its card in the page's topic (score, label, reasons, date, the other
    topics that like it) and what arXiv says of it."""
    context = {
        **_header(services, session, settings, page_topic),
        "paper_id": paper_id,
        "error": page_topic.error,
    }
    if not is_arxiv_id(paper_id):
        context["error"] = f"{paper_id!r} is not an arXiv id (such as 2503.11742)."
        return html_page(request, "paper.html", context, status=404)
    topic = page_topic.topic
    try:
        detail = paper_detail(
            session,
            split_version(paper_id)[0],
            holder=services.holders[topic.id],
            topic=topic,
            every_topic=True,
        )
    except HTTPException as err:
        context["error"] = f"Paper {paper_id} is not in the database; search for it, or label it "
        context["error"] += "from the day page."
        return html_page(request, "paper.html", context, status=err.status_code)
    row = queries.get_paper(session, paper_id=detail.id)
    context["detail"] = detail
    context["item"] = {
        "paper": row,
        "probability": detail.probability,
        "label": detail.label,
        "reasons": detail.reasons,
        "elsewhere": [t.topic for t in detail.topics if t.recommended and t.topic != topic.name],
    }
    return html_page(request, "paper.html", context)


@router.get("/status", response_class=HTMLResponse)
def status_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    settings: SettingsDep,
    page_topic: PageTopicDep,
) -> HTMLResponse:
    """The service's state as ``GET /status`` answers it, in the page's topic: problems first,
    then the model, the labels, the re-scoring, the daily job and its last runs."""
    holder = services.holders[page_topic.topic.id]
    context = {
        **_header(services, session, settings, page_topic),
        "status": status_answer(services, session, settings, holder, page_topic.topic),
    }
    return html_page(request, "status.html", context)
