from __future__ import annotations

import asyncio
import datetime as dt
from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query, Request, Response

from app.api.deps import CallerDep, ServicesDep, require_model
from app.api.errors import READER_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import ModelVersionPublic, PaperPublic, RecommendationsResponse, ScoredPaper
from app.core.cache import STALE_WAIT_SECONDS, CachedBody
from app.runtime.services import Services
from app.serving.day import list_day
from app.store import queries
from app.store.schema import DEFAULT_TOPIC
from app.store.topics import MAX_NAME, TopicNotFound, find_topic

router = APIRouter(
    tags=["recommendations"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

# An answer given as the list was while its new rendering was not ready (RFC 9211's header).
STALE_CACHE_STATUS = "arxiv-reco; hit; detail=stale"


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise validation_error(
            ("query", "date"), f"date {value!r} is not a calendar day: {err}"
        ) from err


@router.get(
    "/recommendations",
    response_model=RecommendationsResponse,
    responses={
        200: {
            "headers": {
                "Cache-Status": {
                    "description": f"``{STALE_CACHE_STATUS}`` when the list is answered as "
                    "it was before the job's latest commit, while its new rendering is not "
                    "ready; absent on a fresh list",
                    "schema": {"type": "string"},
                }
            }
        },
        304: {"description": "Not modified since the ETag in If-None-Match"},
        **error_responses(
            404,
            409,
            503,
            notes={
                404: "No papers have been ingested yet, or not on this day, or no topic of "
                "that name",
                409: "The topic has no model yet",
            },
        ),
    },
)
async def recommendations(
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    date: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="UTC day, YYYY-MM-DD; default: the latest day with papers",
        ),
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=5000)] = None,
    all: Annotated[bool, Query(description="Also list papers below the threshold")] = False,  # noqa: A002
    explain: Annotated[
        bool, Query(description="Give each recommended paper its strongest reasons")
    ] = False,
    topic: Annotated[
        str, Query(max_length=MAX_NAME, description="The topic (GET /topics lists them)")
    ] = DEFAULT_TOPIC,
) -> Response:
    """A day's papers at or above the active model's threshold, best first.

    The rendered list is kept until the next database commit (see ``app.core.cache``), so repeated
    reads cost no query and no model work; each answer carries an ETag for conditional requests.
    While the nightly job commits, a list it changed may be answered as it was (at most one
    rendering behind) rather than wait: such an answer carries
    ``Cache-Status: arxiv-reco; hit; detail=stale``, and the next request gets the new list.
    """
    day = _parse_day(date) if date is not None else None
    # The topic is looked up on a miss only: a cached list costs no query.
    topic = topic.strip().lower()
    key = ("recommendations", caller.reader_id, topic, day, limit, all, explain)
    cache = services.response_cache
    found = cache.lookup(key)
    entry, stale = found.fresh, found.stale
    if entry is None:
        # Concurrent misses of one list (for one database version) share a single rendering.
        flight = (key, cache.version())
        rendering = cache.rendering.get(flight)
        if rendering is None:
            render = partial(
                _render,
                services,
                key,
                reader_id=caller.reader_id,
                topic=topic,
                day=day,
                limit=limit,
                include_all=all,
                explain=explain,
            )
            # A few rendering threads at most: more would only fight the event loop for the
            # interpreter lock while cached answers wait to be sent.
            rendering = asyncio.ensure_future(
                anyio.to_thread.run_sync(render, limiter=services.render_limiter)
            )
            cache.rendering[flight] = rendering

            def rendered(done: asyncio.Future[CachedBody]) -> None:
                cache.rendering.pop(flight, None)
                if done.cancelled() or done.exception() is not None:
                    cache.forget(key)  # a stale body is not served in its place again

            rendering.add_done_callback(rendered)
        # Only the job's changes: the list as it was, if the new one is slow (its topic's new
        # scores; or what every topic shares while other lists render too, as after the night's
        # ingestion: a reader alone after their own ingestion waits for the fresh list).
        if stale is None or not (found.rescored or len(cache.rendering) >= 2):
            entry = await asyncio.shield(rendering)
        else:
            try:
                entry = await asyncio.wait_for(asyncio.shield(rendering), STALE_WAIT_SECONDS)
            except TimeoutError:
                entry = stale
    headers = {"ETag": entry.etag}
    if entry is stale:  # says so (RFC 9211): the fresh list is the next request's
        headers["Cache-Status"] = STALE_CACHE_STATUS
    if request.headers.get("if-none-match") == entry.etag:
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


def _render(
    services: Services,
    key: tuple[object, ...],
    *,
    reader_id: int,
    topic: str,
    day: dt.date | None,
    limit: int | None,
    include_all: bool,
    explain: bool = False,
) -> CachedBody:
    cache = services.response_cache
    with services.sessions() as session:
        try:
            topic_id = find_topic(session, topic, reader_id).id
        except TopicNotFound as err:
            raise HTTPException(404, str(err)) from None
        # What the list depends on, before it is read (and before the model is taken), so that
        # a commit or a model switch meanwhile leaves the entry stale, never wrong.
        version = cache.scoped_version(topic_id)
        model = require_model(services.holders[topic_id])
        day = day or queries.latest_day(session)
        if day is None:
            raise HTTPException(404, "no papers have been ingested yet; run `arxiv-reco ingest`")
        if not queries.day_was_ingested(session, day=day):
            raise HTTPException(
                404,
                f"{day} has not been ingested; backfill it with `arxiv-reco ingest --date {day}`",
            )
        result = list_day(
            session, day=day, model=model, include_all=include_all, limit=limit, explain=explain
        )
        papers = [
            ScoredPaper(
                **PaperPublic.model_validate(item.paper).model_dump(),
                probability=item.probability,
                recommended=item.recommended,
                reasons=item.reasons,
            )
            for item in result.papers
        ]
    listed = result.listed
    assert listed is not None  # a model is active (require_model)
    response = RecommendationsResponse(
        date=day,
        model=ModelVersionPublic(
            id=listed.version_id,
            name=listed.name,
            method=listed.method,
            threshold=listed.threshold,
        ),
        active_model_id=model.version_id,
        rescoring=listed.rescoring,
        threshold=listed.threshold,
        total_papers=result.total,
        recommended=result.recommended,
        pending=result.pending,
        papers=papers,
    )
    return cache.put(
        key,
        response.model_dump_json().encode(),
        version=version,
        scope=topic_id,
    )
