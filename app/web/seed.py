"""The page that finds a reader's own papers on arXiv by name (``/seed``), to tick and label
interesting through the import (``POST /labels/import``; app/web/static/import.js)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.api.deps import ArxivDep, ServicesDep, SessionDep
from app.jobs.arxiv_source import FetchError, author_query
from app.label_import import SEED_LIMIT
from app.label_import.service import Candidate, author_candidates
from app.store import queries
from app.web.templating import TEMPLATES
from app.web.topic import PageTopicDep

router = APIRouter(include_in_schema=False)

MAX_NAME = 200


@router.get("/seed", response_class=HTMLResponse)
def seed_page(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    client: ArxivDep,
    page_topic: PageTopicDep,
    name: Annotated[str, Query(max_length=MAX_NAME)] = "",
) -> HTMLResponse:
    name = " ".join(name.split())
    candidates: list[Candidate] | None = None
    query = error = None
    status = 200
    if name:
        try:
            query = author_query(name)
            candidates = author_candidates(
                session, client=client, name=name, limit=SEED_LIMIT, topic_id=page_topic.topic.id
            )
        except ValueError as err:
            error, status = str(err), 422
        except FetchError as err:
            error, status = f"arXiv could not be searched for {name}: {err}", 503
    context = {
        "name": name,
        "query": query,
        "candidates": candidates,
        "limit": SEED_LIMIT,
        "error": error,
        "labels": queries.label_count(session, topic_id=page_topic.topic.id),
        "token_required": services.access.token is not None,
        "page_topic": page_topic,
        "topic_query": page_topic.query,
    }
    return TEMPLATES.TemplateResponse(request, "seed.html", context, status_code=status)
