"""Readers: the admin's ``/admin/readers`` routes, and a reader's own ``/me``.

The admin (the API token, or a client on this machine where the service has none) makes,
lists and removes readers and gives them new tokens; a token is shown once, when it is made.
A reader reads and changes their own settings (where their digest goes) with their own token.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api.deps import AdminDep, CallerDep, ServicesDep, SessionDep, SettingsDep, WriterDep
from app.api.errors import READER_ERRORS, WRITE_ERRORS, JSONRoute, error_responses, validation_error
from app.api.schemas import (
    ReaderChange,
    ReaderCreated,
    ReaderPublic,
    ReaderRemoved,
    ReaderRequest,
    ReaderToken,
)
from app.digest.links import digest_key, feed_key
from app.jobs.lock import PROBE_GRACE_SECONDS, READER_REMOVAL, JobBusy
from app.runtime.services import Services
from app.serving.store import remove as remove_stored
from app.store.readers import (
    ReaderError,
    ReaderNotFound,
    add_reader,
    check_removable,
    find_reader,
    list_readers,
    remove_reader,
    renew_token,
    set_email,
)
from app.store.schema import Label, Reader, Topic
from app.store.topics import list_topics, remove_model_directories

router = APIRouter(
    tags=["readers"], route_class=JSONRoute, responses=error_responses(*READER_ERRORS)
)

_UNKNOWN = {404: "No reader of that name"}


def feed_url(services: Services, reader_id: int, name: str) -> str | None:
    """The path of the reader's Atom feed with its key (``app.web.feed``); None while no
    reader is made."""
    token_hash = services.readers.token_hash_of(reader_id)
    if token_hash is None:
        return None
    key = feed_key(digest_key(services.settings), reader_id, token_hash)
    return f"/feed.atom?{urlencode({'reader': name, 'key': key})}"


def reader_public(session: Session, reader: Reader) -> ReaderPublic:
    topics = list_topics(session, reader.id)
    labels = session.scalar(
        select(func.count())
        .select_from(Label)
        .join(Topic, Topic.id == Label.topic_id)
        .where(Topic.reader_id == reader.id)
    )
    return ReaderPublic(
        name=reader.name or "",
        email=reader.email,
        topics=[topic.name for topic in topics],
        labels=labels or 0,
        created_at=reader.created_at,
        token_created_at=reader.token_created_at,
    )


def _found(session: Session, name: str) -> Reader:
    try:
        return find_reader(session, name)
    except ReaderNotFound as err:
        raise HTTPException(404, str(err)) from None


@router.get("/admin/readers", response_model=list[ReaderPublic], dependencies=[AdminDep])
def readers(session: SessionDep) -> list[ReaderPublic]:
    """Every reader made, the first first."""
    return [reader_public(session, reader) for reader in list_readers(session)]


@router.post(
    "/admin/readers",
    response_model=ReaderCreated,
    status_code=201,
    dependencies=[AdminDep],
    responses=error_responses(*WRITE_ERRORS, 409, notes={409: "A reader of that name exists"}),
)
def add(body: ReaderRequest, session: SessionDep) -> ReaderCreated:
    """Make a reader and their token (shown once). The first reader made takes the install's
    topics, labels and models; from then on every request names its reader by token."""
    try:
        made = add_reader(session, body.name, email=body.email)
        session.commit()
    except ReaderError as err:
        if "exists already" in str(err):
            raise HTTPException(409, str(err)) from None
        field = "email" if "email address" in str(err) else "name"
        raise validation_error(("body", field), str(err)) from None
    except IntegrityError:  # the same name, made meanwhile by another request
        session.rollback()
        raise HTTPException(409, f"a reader named {body.name.strip().lower()!r} exists") from None
    public = reader_public(session, made.reader)
    return ReaderCreated(
        **public.model_dump(), token=made.token, took_existing_data=made.took_existing_data
    )


@router.post(
    "/admin/readers/{name}/token",
    response_model=ReaderToken,
    dependencies=[AdminDep],
    responses=error_responses(*WRITE_ERRORS, 404, notes=_UNKNOWN),
)
def new_token(name: str, session: SessionDep) -> ReaderToken:
    """A new token for the reader (shown once); the old one stops working at once."""
    _found(session, name)
    token = renew_token(session, name)
    session.commit()
    return ReaderToken(name=name.strip().lower(), token=token)


@router.delete(
    "/admin/readers/{name}",
    response_model=ReaderRemoved,
    dependencies=[AdminDep],
    responses=error_responses(
        *WRITE_ERRORS,
        404,
        409,
        notes={**_UNKNOWN, 409: "The first reader, who stays, or a job is running"},
    ),
)
def remove(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    confirm: Annotated[
        str,
        Query(max_length=64, description="The reader's name again: removing cannot be undone"),
    ],
) -> ReaderRemoved:
    """Remove a reader: their labels are exported to a CSV in the data directory first, then
    their topics, labels, model versions, scores and retrain runs are deleted."""
    reader = _found(session, name)
    if confirm.strip().lower() != reader.name:
        raise validation_error(
            ("query", "confirm"),
            f"confirm={confirm!r} does not repeat the reader's name {reader.name!r}",
        )
    try:
        check_removable(reader)
    except ReaderError as err:
        raise HTTPException(409, str(err)) from None
    topic_ids = [topic.id for topic in list_topics(session, reader.id)]
    try:
        # Under the job's one lock: a retrain of theirs finishing after the removal would
        # register a model for no topic.
        with services.job.held(READER_REMOVAL, wait=PROBE_GRACE_SECONDS):
            removed = remove_reader(session, reader.name or name, data_dir=settings.data_dir)
            session.commit()
    except JobBusy as busy:
        raise HTTPException(409, f"{busy.plain()}; remove the reader when it is done") from None
    for topic_id in topic_ids:
        services.holders.forget(topic_id)
    directories = remove_model_directories(
        removed.model_paths, settings.resolved_model_dir, remove_stored
    )
    return ReaderRemoved(
        name=removed.name,
        topics=removed.topics,
        labels=removed.labels,
        labels_export=str(removed.exported_to) if removed.exported_to else None,
        model_directories_removed=directories,
    )


@router.get("/me", response_model=ReaderPublic)
def me(session: SessionDep, services: ServicesDep, caller: CallerDep) -> ReaderPublic:
    """The reader this request's token names (before readers are made: the install's one
    reader, with no name), with the URL of their Atom feed, whose key stands in for the token
    a feed reader cannot send."""
    public = reader_public(session, session.get_one(Reader, caller.reader_id))
    public.feed_url = feed_url(services, caller.reader_id, caller.name or "")
    return public


@router.patch(
    "/me",
    response_model=ReaderPublic,
    dependencies=[WriterDep],
    responses=error_responses(*WRITE_ERRORS),
)
def change_me(body: ReaderChange, session: SessionDep, caller: CallerDep) -> ReaderPublic:
    """Change where the reader's own digest goes (null: no digest)."""
    reader = session.get_one(Reader, caller.reader_id)
    try:
        set_email(session, reader, body.email)
    except ReaderError as err:
        raise validation_error(("body", "email"), str(err)) from None
    session.commit()
    return reader_public(session, reader)
