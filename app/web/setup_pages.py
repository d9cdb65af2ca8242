"""The reader's setup pages: the onboarding (``/onboarding``, app.jobs.onboarding) and the followed
categories (``/settings/categories``, app.store.categories). Both write through the JSON API
(``POST /onboarding/answers``, ``PUT /categories``) from their scripts, with the API token when
the service has one, as the day page does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import HolderDep, ServicesDep, SessionDep
from app.api.routes.categories import categories_answer
from app.jobs.onboarding import measured_progress, next_batch, picked_papers, unlabelled_count
from app.store import queries
from app.store.categories import taxonomy
from app.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


@router.get("/onboarding", response_class=HTMLResponse)
def onboarding_page(
    request: Request, services: ServicesDep, session: SessionDep, holder: HolderDep
) -> HTMLResponse:
    """About ten stored papers to answer, chosen to teach the model most; "next batch" stores
    the answers, retrains and shows the papers the new model chooses."""
    loaded = holder.get()
    picks = next_batch(session, loaded)
    context: dict[str, Any] = {
        "model": loaded,
        "items": [
            {"paper": paper, "why": pick.why, "probability": pick.probability}
            for paper, pick in picked_papers(session, picks)
        ],
        "progress": measured_progress(session),
        "papers_stored": queries.table_counts(session)["papers"],
        "left": unlabelled_count(session),
        "token_required": services.access.token is not None,
    }
    return TEMPLATES.TemplateResponse(request, "onboarding.html", context)


@router.get("/settings/categories", response_class=HTMLResponse)
def categories_page(request: Request, services: ServicesDep, session: SessionDep) -> HTMLResponse:
    """arXiv's categories by archive, the followed ones ticked, with a filter box."""
    answer = categories_answer(session, services)
    context: dict[str, Any] = {
        "answer": answer,
        "followed": set(answer.categories),
        "archives": taxonomy(),
        "token_required": services.access.token is not None,
    }
    return TEMPLATES.TemplateResponse(request, "categories.html", context)
