"""Rows and model versions for tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.core.db import session_scope
from app.ml.artifact import ModelMeta
from app.ml.registry import register_model


def activate_model_dir(sessions: sessionmaker[Session], path: Path, name: str = "tiny") -> int:
    with session_scope(sessions) as session:
        version = register_model(
            session, path=path, meta=ModelMeta.load(path), name=name, activate=True
        )
        return version.id
