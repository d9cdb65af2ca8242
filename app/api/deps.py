"""Typed dependencies shared by the routes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.core.access import loopback_client
from app.core.arxiv_ids import ARXIV_ID_PATTERN
from app.core.config import Settings
from app.jobs.arxiv_source import ArxivClient
from app.runtime.services import Services
from app.serving.holder import LoadedModel, ModelHolder
from app.store.readers import hash_token
from app.store.schema import DEFAULT_TOPIC, DEFAULT_TOPIC_ID, FIRST_READER_ID, Topic
from app.store.topics import MAX_NAME, TopicNotFound, find_topic

NO_MODEL = (
    "no model is active yet: train one with "
    "`arxiv-reco train --data labels.csv --output data/models/first --activate` "
    "(or `--method tfidf` for a model in seconds)"
)


async def get_services(request: Request) -> Services:
    """The running service's parts, made at start (``app.main.start_services``). Every route
    that reads or writes stored data comes here first: once the SQLite file is deleted or
    replaced, each answers 503 (``DatabaseGone``, ``app.main``) instead of answering from the
    deleted file's open copy or failing in its response cache."""
    services = request.app.state.services
    assert isinstance(services, Services)
    services.database.check_file()  # one stat
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def services_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_db(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


BEARER = HTTPBearer(
    auto_error=False,
    description="A reader's token once readers are made (`arxiv-reco readers add NAME`): every "
    "request for a reader's data carries it. Before that, and for the admin routes, the API "
    "token: ARXIV_RECO_API_TOKEN, or the one generated into <data_dir>/api_token when the "
    "service listens beyond this machine; without one, writes are taken from loopback clients "
    "only.",
)
# The page's sign-in (app.web.login) keeps the reader's token in this cookie: HttpOnly, so no
# script reads it; SameSite=Lax, so another site's request carries it only on a link followed
# (a digest's day link in webmail), never on a write, which refuse_cross_site refuses anyway.
READER_COOKIE = "arxiv_reco_reader"
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


@dataclass(frozen=True)
class Caller:
    """Whose data a request reads and writes: the reader its token names, or, while no reader
    is made (a single-reader install), the install's one reader."""

    reader_id: int
    name: str | None  # None while no reader is made
    readers_made: bool


class SignInNeeded(HTTPException):
    """401 for an API client; the pages send the browser to the sign-in page instead."""


def _is_admin_token(services: Services, token: str | None) -> bool:
    admin = services.access.token
    return bool(token and admin and secrets.compare_digest(token.encode(), admin.encode()))


async def reader_dependency(
    request: Request, services: ServicesDep, credentials: CredentialsDep
) -> Caller:
    """``current_reader`` on the event loop: from memory, no thread for it (every request asks;
    a hop to the thread pool per request was most of ``GET /recommendations``' tail under load
    while the nightly job ran, bench/lab.py)."""
    return current_reader(request, services, credentials)


def current_reader(request: Request, services: Services, credentials: CredentialsDep) -> Caller:
    """The reader a request's token names (``Authorization: Bearer``, or the page's cookie); 401
    without one once readers are made, 403 for the admin token, which names no reader."""
    known = services.readers.current()
    if not known.made:
        return Caller(FIRST_READER_ID, None, False)
    bearer = credentials.credentials if credentials is not None else None
    # The page's sign-in first: a browser's request is the signed-in reader's, whatever token
    # an older page kept (API clients send no cookie).
    for token in (request.cookies.get(READER_COOKIE), bearer):
        found = known.by_hash.get(hash_token(token)) if token else None
        if found is not None:
            return Caller(found[0], found[1], True)
    if _is_admin_token(services, bearer):
        raise HTTPException(
            403,
            "this is the admin token, which manages readers (/admin/readers) and what every "
            "reader shares; a reader's labels, topics and models need that reader's own token",
        )
    raise SignInNeeded(
        401,
        "this service has readers: send your reader token ('Authorization: Bearer <token>'; "
        "`arxiv-reco readers token NAME` makes a new one) or sign in on the page (/login)",
        headers={"WWW-Authenticate": "Bearer"},
    )


CallerDep = Annotated[Caller, Depends(reader_dependency)]


def current_topic(
    session: Annotated[Session, Depends(get_db)],
    caller: CallerDep,
    topic: Annotated[
        str,
        Query(max_length=MAX_NAME, description="The topic (GET /topics lists them)"),
    ] = DEFAULT_TOPIC,
) -> Topic:
    """The reader's topic a request names (``?topic=``, default ``default``); 404 naming an
    unknown one (another reader's topic is unknown here)."""
    try:
        return find_topic(session, topic, caller.reader_id)
    except TopicNotFound as err:
        raise HTTPException(404, str(err)) from None


TopicDep = Annotated[Topic, Depends(current_topic)]


def topic_holder(services: ServicesDep, topic: TopicDep) -> ModelHolder:
    """The model holder of the topic a request names."""
    return services.holders[topic.id]


TopicHolderDep = Annotated[ModelHolder, Depends(topic_holder)]


def get_holder(services: ServicesDep) -> ModelHolder:
    return services.holder


def require_model(holder: ModelHolder) -> LoadedModel:
    """The active model, or 503 saying how to get one. Called in a route after its own checks,
    never as a dependency: FastAPI resolves dependencies before it reports a bad body, and bad
    input is a 422 whether a model is active or not.

    A topic other than the default one without any model yet is 409 (the reader has not trained
    it; nothing is unavailable); a model that no longer loads is 503 in every topic."""
    loaded = holder.get()
    if loaded is None:
        if holder.last_error is None and holder.topic_id != DEFAULT_TOPIC_ID:
            raise HTTPException(
                status_code=409,
                detail="this topic has no model yet: mark a paper ✓ in it (?topic=) and "
                "retrain it (POST /retrain?topic=)",
            )
        detail = holder.last_error or NO_MODEL
        raise HTTPException(status_code=503, detail=detail)
    return loaded


def get_arxiv(services: ServicesDep) -> ArxivClient:
    return services.arxiv


SettingsDep = Annotated[Settings, Depends(services_settings)]
ArxivDep = Annotated[ArxivClient, Depends(get_arxiv)]
SessionDep = Annotated[Session, Depends(get_db)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]

# The largest row id a path takes: INTEGER on PostgreSQL (SQLite's is wider).
MAX_ROW_ID = 2**31 - 1
PaperIdPath = Annotated[
    str,
    Path(
        pattern=ARXIV_ID_PATTERN,
        description="An arXiv id, new style (2503.11742) or old (hep-th/9901001); a version "
        "suffix (2503.11742v2) is taken and dropped: labels and scores belong to the paper",
        examples=["2503.11742"],
    ),
]
VersionIdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A model version's id")]


def refuse_cross_site(request: Request, services: Services) -> None:
    if services.access.from_another_site(
        origin=request.headers.get("origin"),
        fetch_site=request.headers.get("sec-fetch-site"),
        host_header=request.headers.get("host", ""),
    ):
        raise HTTPException(403, "cross-site requests may not change data")


def require_writer(request: Request, services: ServicesDep, credentials: CredentialsDep) -> None:
    """Writes never come from another site. Once readers are made, a reader writes their own
    data with their own token (``current_reader``). Before, writes need the API token, or, when
    the service has none (it listens on loopback), a client on this machine
    (``app.core.access``)."""
    refuse_cross_site(request, services)
    if services.readers.current().made:
        current_reader(request, services, credentials)
        return
    _require_install_token(request, services, credentials)


def require_admin(request: Request, services: ServicesDep, credentials: CredentialsDep) -> None:
    """The admin's routes (readers, and once readers are made what they all share: followed
    categories, ingestion): the API token, or, when the service has none, a client on this
    machine; never from another site, never a reader's token."""
    refuse_cross_site(request, services)
    bearer = credentials.credentials if credentials is not None else None
    sent = bearer or request.cookies.get(READER_COOKIE)  # the page's sign-in
    if sent and services.readers.find(sent) is not None:
        raise HTTPException(
            403, "this needs the admin token (the API token); a reader's token is not enough"
        )
    if services.access.token is None and services.readers.current().made:
        # Loopback is no admin once readers are made: every reader may be on this machine.
        raise HTTPException(
            403,
            "with readers, the admin's routes need an API token (set ARXIV_RECO_API_TOKEN and "
            "restart); on this machine `arxiv-reco readers ...` works without one",
        )
    _require_install_token(request, services, credentials)


def require_shared_writer(
    request: Request, services: ServicesDep, credentials: CredentialsDep
) -> None:
    """A change every reader shares (followed categories, an ingestion): any writer while no
    reader is made, the admin's once they are."""
    if services.readers.current().made:
        require_admin(request, services, credentials)
    else:
        require_writer(request, services, credentials)


def require_viewer(request: Request, services: ServicesDep, credentials: CredentialsDep) -> None:
    """What every reader shares (followed categories, the retrain running): open while no
    reader is made; then a reader's token or the admin's."""
    if not services.readers.current().made:
        return
    bearer = credentials.credentials if credentials is not None else None
    if _is_admin_token(services, bearer):
        return
    current_reader(request, services, credentials)


def _require_install_token(
    request: Request, services: Services, credentials: HTTPAuthorizationCredentials | None
) -> None:
    access = services.access
    if access.token is None:
        if not loopback_client(request.scope):
            raise HTTPException(
                403,
                "writes are taken only from this machine while no API token is set: set "
                "ARXIV_RECO_API_TOKEN (and send 'Authorization: Bearer <token>') to write from "
                "elsewhere or through a proxy",
            )
        return
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), access.token.encode()
    ):
        raise HTTPException(
            401,
            "this service needs its API token for writes: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


WriterDep = Depends(require_writer)
AdminDep = Depends(require_admin)
SharedWriterDep = Depends(require_shared_writer)
ViewerDep = Depends(require_viewer)
