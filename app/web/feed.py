"""The Atom feed of recent recommendations, for any feed reader. Once readers are made, each
reader's feed URL carries a key of theirs (``GET /me`` gives it): a feed reader sends no token."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import (
    NO_MODEL,
    Caller,
    CredentialsDep,
    ServicesDep,
    SessionDep,
    SettingsDep,
    current_reader,
)
from app.api.errors import READER_ERRORS, error_responses
from app.core.config import Settings
from app.digest.links import digest_key, feed_key
from app.runtime.services import Services
from app.store import queries
from app.store.schema import DEFAULT_TOPIC
from app.store.topics import MAX_NAME, TopicNotFound, find_topic
from app.web.templating import TEMPLATES

router = APIRouter(tags=["feed"])


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get(
    "/feed.atom",
    response_class=Response,
    responses=error_responses(*READER_ERRORS, 404, notes={404: "No topic of that name"}),
)
def feed(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    settings: SettingsDep,
    credentials: CredentialsDep,
    days: Annotated[int | None, Query(ge=1, le=60, description="How many recent days")] = None,
    topic: Annotated[
        str, Query(max_length=MAX_NAME, description="The topic (GET /topics lists them)")
    ] = DEFAULT_TOPIC,
    reader: Annotated[
        str | None,
        Query(max_length=MAX_NAME, description="Once readers are made: whose feed (with key)"),
    ] = None,
    key: Annotated[
        str | None,
        Query(
            max_length=64,
            description="The reader's feed key (GET /me gives the whole URL): a feed reader "
            "sends no token",
        ),
    ] = None,
) -> Response:
    """A topic's recommended papers of the last listing days, newest day first (one feed per
    topic: ``?topic=NAME``; the default topic's without it). Without a model it is a valid feed
    with no entries whose subtitle says what to do. Once readers are made it is a reader's:
    their token, or the ``reader`` and ``key`` of the feed URL ``GET /me`` gives."""
    caller = _feed_reader(request, services, settings, credentials, reader, key)
    try:
        found = find_topic(session, topic, caller.reader_id)
    except TopicNotFound as err:
        raise HTTPException(404, str(err)) from None
    holder = services.holders[found.id]
    model = holder.get()
    rows = (
        queries.recent_recommendations(
            session,
            model_version_id=model.version_id,
            threshold=model.threshold,
            days=days or settings.feed_days,
        )
        if model is not None
        else []
    )
    newest = max(
        (p.updated_at or p.submitted_at for p, _ in rows),
        default=dt.datetime.now(dt.timezone.utc),
    )
    return TEMPLATES.TemplateResponse(
        request,
        "feed.atom",
        {
            "base": str(request.base_url).rstrip("/"),
            "model": model,
            "no_model": holder.last_error or NO_MODEL,
            "rows": rows,
            "topic": None if found.is_default else found.name,
            "updated": _stamp(newest),
            "stamp": _stamp,
        },
        media_type="application/atom+xml",
    )


def _feed_reader(
    request: Request,
    services: Services,
    settings: Settings,
    credentials: HTTPAuthorizationCredentials | None,
    reader: str | None,
    key: str | None,
) -> Caller:
    """The reader a feed URL's key names, else the request's token (``current_reader``)."""
    if reader and key and services.readers.current().made:
        for token_hash, (reader_id, name) in services.readers.current().by_hash.items():
            if name == reader.strip().lower():
                expected = feed_key(digest_key(settings), reader_id, token_hash)
                if hmac.compare_digest(expected, key):
                    return Caller(reader_id, name, True)
        raise HTTPException(403, "this feed key is not the reader's (a new token changes it)")
    return current_reader(request, services, credentials)
