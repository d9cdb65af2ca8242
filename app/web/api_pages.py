"""Pages for a paper (``/papers/{id}``) and for the service's state (``/status``), at the JSON
API's own URLs: a browser asking for a page (``Accept: text/html``) gets one, any other client
the API's JSON, as with search (``app.web.search_pages.PageRoute``). Each page renders what the API
answers, so the two never disagree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse

from app.api.deps import HolderDep, ServicesDep, SessionDep, SettingsDep
from app.api.routes.papers import paper_detail
from app.api.routes.system import status as status_answer
from app.core.arxiv_ids import is_arxiv_id, split_version
from app.store import queries
from app.store.categories import followed_categories
from app.store.schema import DEFAULT_TOPIC_ID, Topic
from app.web.search_pages import PageRoute, html_page, search_form

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _header(services: Any, session: Any, settings: Any, holder: Any) -> dict[str, Any]:
    """What the pages' header (_search_form.html) shows."""
    return {
        "form": search_form(followed_categories(session, settings)),
        "model": holder.get(),
        "token_required": services.access.token is not None,
        "labels": queries.label_count(session),
    }


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    holder: HolderDep,
    settings: SettingsDep,
    paper_id: str,
) -> HTMLResponse:
    """One stored paper: its card (score, label, reasons, date) and what arXiv says of it."""
    context = {**_header(services, session, settings, holder), "paper_id": paper_id}
    if not is_arxiv_id(paper_id):
        context["error"] = f"{paper_id!r} is not an arXiv id (such as 2503.11742)."
        return html_page(request, "paper.html", context, status=404)
    try:
        # The page shows the default topic (a topic switcher is issue 19's next step).
        default = session.get_one(Topic, DEFAULT_TOPIC_ID)
        detail = paper_detail(session, split_version(paper_id)[0], holder=holder, topic=default)
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
    }
    return html_page(request, "paper.html", context)


@router.get("/status", response_class=HTMLResponse)
def status_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    holder: HolderDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The service's state as ``GET /status`` answers it: problems first, then the model, the
    labels, the re-scoring, the daily job and its last runs."""
    context = {
        **_header(services, session, settings, holder),
        "status": status_answer(services, session, settings, holder),
    }
    return html_page(request, "status.html", context)
