"""The Atom feed of recent recommendations, for any feed reader."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import NO_MODEL, SessionDep, SettingsDep, TopicDep, TopicHolderDep
from app.api.errors import READER_ERRORS, error_responses
from app.store import queries
from app.store.schema import DEFAULT_TOPIC_ID
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
    holder: TopicHolderDep,
    topic: TopicDep,
    settings: SettingsDep,
    days: Annotated[int | None, Query(ge=1, le=60, description="How many recent days")] = None,
) -> Response:
    """A topic's recommended papers of the last listing days, newest day first (one feed per
    topic: ``?topic=NAME``; the default topic's without it). Without a model it is a valid feed
    with no entries whose subtitle says what to do."""
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
            "topic": None if topic.id == DEFAULT_TOPIC_ID else topic.name,
            "updated": _stamp(newest),
            "stamp": _stamp,
        },
        media_type="application/atom+xml",
    )
