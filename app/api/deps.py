"""Typed dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.ml.serving import LoadedModel, ModelHolder

NO_MODEL = (
    "no model is active yet: train one with "
    "`arxiv-reco train --data labels.csv --output data/models/first --activate` "
    "(or `--method tfidf` for a model in seconds)"
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder  # type: ignore[no-any-return]


def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> LoadedModel:
    loaded = holder.get()
    if loaded is None:
        detail = holder.last_error or NO_MODEL
        raise HTTPException(status_code=503, detail=detail)
    return loaded


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
