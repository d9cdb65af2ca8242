"""The reader's setup pages: the onboarding (``/onboarding``, app.jobs.onboarding) and the followed
categories (``/settings/categories``, app.store.categories). Both write through the JSON API
(``POST /onboarding/answers``, ``PUT /categories``) from their scripts, with the API token when
the service has one, as the day page does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import ServicesDep, SessionDep
from app.api.routes.categories import categories_answer
from app.jobs.onboarding import measured_progress, next_batch, picked_papers, unlabelled_count
from app.store import queries
from app.store.categories import taxonomy
from app.web.login import PageCallerDep
from app.web.templating import TEMPLATES
from app.web.topic import PageTopicDep

router = APIRouter(include_in_schema=False)


@router.get("/onboarding", response_class=HTMLResponse)
def onboarding_page(
    request: Request, services: ServicesDep, session: SessionDep, page_topic: PageTopicDep
) -> HTMLResponse:
    """About ten stored papers to answer in the page's topic, chosen to teach its model most;
    "next batch" stores the answers, retrains and shows the papers the new model chooses."""
    topic_id = page_topic.topic.id
    loaded = services.holders[topic_id].get()
    picks = next_batch(session, loaded, topic_id=topic_id)
    context: dict[str, Any] = {
        "model": loaded,
        "items": [
            {"paper": paper, "why": pick.why, "probability": pick.probability}
            for paper, pick in picked_papers(session, picks)
        ],
        "progress": measured_progress(session, topic_id=topic_id),
        "papers_stored": queries.table_counts(session)["papers"],
        "left": unlabelled_count(session, topic_id=topic_id),
        "token_required": services.access.token is not None,
        "page_topic": page_topic,
        "topic_query": page_topic.query,
        "error": page_topic.error,
    }
    return TEMPLATES.TemplateResponse(request, "onboarding.html", context)


@router.get("/settings/categories", response_class=HTMLResponse)
def categories_page(
    request: Request, services: ServicesDep, session: SessionDep, caller: PageCallerDep
) -> HTMLResponse:
    """arXiv's categories by archive, the followed ones ticked, with a filter box. Once readers
    are made they share them: the page shows them to a reader, and only the admin's token
    changes them."""
    answer = categories_answer(session, services)
    context: dict[str, Any] = {
        "answer": answer,
        "followed": set(answer.categories),
        "archives": taxonomy(),
        "token_required": services.access.token is not None,
        "admin_only": caller.readers_made,
    }
    return TEMPLATES.TemplateResponse(request, "categories.html", context)
