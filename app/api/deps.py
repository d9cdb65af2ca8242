"""Typed dependencies shared by the routes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.ml.serving import LoadedModel, ModelHolder
from app.services import Services

NO_MODEL = (
    "no model is active yet: train one with "
    "`arxiv-reco train --data labels.csv --output data/models/first --activate` "
    "(or `--method tfidf` for a model in seconds)"
)


def get_services(request: Request) -> Services:
    """The running service's parts, made at start (``app.main.start_services``)."""
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_db(services: ServicesDep) -> Iterator[Session]:
    with services.sessions() as session:
        yield session


def get_holder(services: ServicesDep) -> ModelHolder:
    return services.holder


def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> LoadedModel:
    return require_model(holder)


def require_model(holder: ModelHolder) -> LoadedModel:
    """The active model, or 503 saying how to get one."""
    loaded = holder.get()
    if loaded is None:
        detail = holder.last_error or NO_MODEL
        raise HTTPException(status_code=503, detail=detail)
    return loaded


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]


def require_writer(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """Writes need the API token when one is set, and never come from another site."""
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site" or (
        origin is not None and urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise HTTPException(403, "cross-site requests may not change data")
    token = settings.api_token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(
            401,
            "this service needs its API token for writes: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


WriterDep = Depends(require_writer)
