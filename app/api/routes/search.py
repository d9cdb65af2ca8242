"""Finding stored papers: ``GET /search`` and ``GET /papers/{id}/similar`` (app/store/search.py).

A browser asking for a page (``Accept: text/html``) at the same URLs gets the reader's pages
(``app.web.search_pages``), which are matched first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from app.api.deps import PaperIdPath, SessionDep, TopicDep, TopicHolderDep
from app.api.errors import READER_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import (
    FoundPaperPublic,
    ModelVersionPublic,
    PaperPublic,
    SearchResponse,
    SimilarResponse,
)
from app.core.config import unknown_category
from app.serving.holder import LoadedModel
from app.store import queries
from app.store.search import (
    MAX_QUERY_CHARS,
    MAX_RESULTS,
    FoundPaper,
    QueryError,
    SearchQuery,
    SearchUnavailable,
    parse_query,
    search_papers,
    similar_papers,
    since_utc,
    with_labels_and_scores,
)

router = APIRouter(
    tags=["search"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

_UNAVAILABLE = {503: "The database has no full-text search (SQLite and PostgreSQL have one)"}
# The same URLs answer with a page when a browser asks for one.
_VARY = {"Vary": "Accept"}


def checked_query(q: str) -> SearchQuery:
    """The parsed query, or a 422 saying why it cannot be searched."""
    try:
        return parse_query(q)
    except QueryError as err:
        raise validation_error(("query", "q"), str(err)) from err


def checked_category(category: str | None) -> str | None:
    problem = unknown_category(category) if category is not None else None
    if problem is not None:
        raise validation_error(("query", "category"), problem)
    return category


def checked_since(since: dt.datetime | None) -> dt.datetime | None:
    try:
        return since_utc(since) if since is not None else None
    except ValueError as err:
        raise validation_error(("query", "since"), str(err)) from err


def _model(loaded: LoadedModel | None) -> ModelVersionPublic | None:
    if loaded is None:
        return None
    return ModelVersionPublic(
        id=loaded.version_id, name=loaded.name, method=loaded.method, threshold=loaded.threshold
    )


def _public(found: FoundPaper) -> FoundPaperPublic:
    return FoundPaperPublic(
        **PaperPublic.model_validate(found.paper).model_dump(),
        first_seen_at=found.paper.first_seen_at,
        probability=found.probability,
        recommended=found.recommended,
        label=found.label,
    )


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=error_responses(404, 503, notes={404: "No topic of that name", **_UNAVAILABLE}),
)
def search(
    response: Response,
    session: SessionDep,
    topic: TopicDep,
    holder: TopicHolderDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="Words to find in titles, abstracts and author names, all of them; "
            '"a phrase" in quotes, `a or b` for either, `-word` to leave out (the syntax of '
            "PostgreSQL's websearch_to_tsquery, on every backend). Words are stemmed; case "
            "and accents do not matter",
            examples=["sparse autoencoders -vision"],
        ),
    ],
    category: Annotated[
        str | None,
        Query(description="Only papers in this arXiv category, cross-lists included"),
    ] = None,
    unlabelled: Annotated[
        bool, Query(description="Only papers you have not labelled in the topic")
    ] = False,
    since: Annotated[
        dt.datetime | None,
        Query(
            description="Only papers this service first stored at or after this time (ISO "
            "8601; without a zone it is UTC; a date alone is its midnight): what is new since "
            "your last visit"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
) -> SearchResponse:
    """Stored papers matching a query, best match first (title matches weigh most), with your
    label and the active model's score in the topic (``?topic=``) beside each."""
    parsed = checked_query(q)
    category = checked_category(category)
    since = checked_since(since)
    try:
        papers = search_papers(
            session,
            query=parsed,
            category=category,
            unlabelled=unlabelled,
            since=since,
            limit=limit,
            topic_id=topic.id,
        )
    except SearchUnavailable as err:
        raise HTTPException(503, str(err)) from err
    loaded = holder.get()
    response.headers.update(_VARY)
    found = with_labels_and_scores(session, papers, model=loaded, topic_id=topic.id)
    return SearchResponse(
        query=q, topic=topic.name, model=_model(loaded), papers=[_public(f) for f in found]
    )


@router.get(
    "/papers/{paper_id:path}/similar",
    response_model=SimilarResponse,
    responses=error_responses(
        404, 503, notes={404: "The paper, or the topic, is not in the database", **_UNAVAILABLE}
    ),
)
def similar(
    response: Response,
    paper_id: PaperIdPath,
    session: SessionDep,
    topic: TopicDep,
    holder: TopicHolderDep,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
) -> SimilarResponse:
    """The stored papers most like this one (by its most distinctive title and abstract
    terms), most similar first, with your label and the active model's score in the topic
    (``?topic=``) beside each."""
    paper = queries.get_paper(session, paper_id=paper_id)
    if paper is None:
        raise HTTPException(404, f"paper {paper_id} is not in the database")
    try:
        papers = similar_papers(session, paper=paper, limit=limit)
    except SearchUnavailable as err:
        raise HTTPException(503, str(err)) from err
    loaded = holder.get()
    response.headers.update(_VARY)
    found = with_labels_and_scores(session, papers, model=loaded, topic_id=topic.id)
    return SimilarResponse(
        paper_id=paper.id,
        topic=topic.name,
        model=_model(loaded),
        papers=[_public(f) for f in found],
    )
