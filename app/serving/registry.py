"""Model versions in the database: register, activate, roll back, find the active one."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import session_scope
from app.serving.store import ModelStoreError, is_url, local_path, publish
from app.store.schema import DEFAULT_TOPIC_ID, ModelVersion, Topic, utcnow
from training.inference.artifact import META_FILE, ModelMeta

logger = logging.getLogger(__name__)


class ModelVersionError(LookupError):
    pass


class ModelNotServable(ModelVersionError):
    """A registered model whose files cannot be loaded or cannot score."""


def register_model(
    session: Session,
    *,
    path: Path | str,
    meta: ModelMeta,
    name: str | None = None,
    activate: bool,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> ModelVersion:
    """Record a model directory of a topic, or its URL in the model store (re-registering the
    same path updates it)."""
    resolved = str(path).rstrip("/") if is_url(path) else str(Path(path).resolve())
    if session.get(Topic, topic_id) is None:
        raise ModelVersionError(f"no topic {topic_id} to register {resolved} in (deleted?)")
    version = session.scalar(select(ModelVersion).where(ModelVersion.path == resolved))
    if version is None:
        version = ModelVersion(path=resolved, topic_id=topic_id)
        session.add(version)
    elif version.topic_id != topic_id:
        raise ModelVersionError(
            f"{resolved} is registered as model version {version.id} of another topic"
        )
    version.name = name or resolved.rsplit("/", 1)[-1]
    version.method = meta.method
    version.metrics = meta.metrics
    session.flush()
    if activate:
        activate_model(session, version_id=version.id)
    return version


def register_trained(
    sessions: sessionmaker[Session],
    path: Path,
    meta: ModelMeta,
    *,
    name: str | None = None,
    activate: bool,
    topic_id: int = DEFAULT_TOPIC_ID,
    store: str | None = None,
) -> int:
    """Record a model directory that training just wrote, in its own transaction; with a
    ``store`` (``ARXIV_RECO_MODEL_STORE``) it is uploaded there first and registered by URL."""
    where: str | Path = publish(Path(path), store) if store else path
    with session_scope(sessions) as session:
        version_id = register_model(
            session, path=where, meta=meta, name=name, activate=activate, topic_id=topic_id
        ).id
    logger.info(
        "registered model version %d%s", version_id, " and made it active" if activate else ""
    )
    return version_id


def version_threshold(version: ModelVersion) -> float | None:
    """The threshold of a registered model, read from its directory (its one home); None when
    the directory is gone or unreadable."""
    try:
        return float(ModelMeta.load(local_path(version.path)).threshold)
    except (OSError, ValueError):
        return None


def activate_model(
    session: Session,
    *,
    version_id: int,
    verify: bool = False,
    device: str = "cpu",
    topic_id: int | None = None,
) -> ModelVersion:
    """Serve ``version_id`` in its topic (``topic_id``, when given, must be its topic: a version is
    never activated from another topic's page). ``verify`` loads it and scores a test paper first,
    so that a broken model directory is refused here rather than found by the service."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise ModelVersionError(f"no model version {version_id}")
    if topic_id is not None and version.topic_id != topic_id:
        # As for an id never given: another topic's (another reader's) ids are not told apart.
        raise ModelVersionError(f"no model version {version_id} in this topic")
    try:
        files = local_path(version.path)
    except ModelStoreError as err:
        raise ModelVersionError(f"model version {version_id}: {err}") from err
    if not (files / META_FILE).is_file():
        raise ModelVersionError(f"model version {version_id} has no files at {version.path}")
    if verify:
        from training.inference.predictor import load_predictor

        try:
            load_predictor(files, device=device)
        except ValueError as err:  # ArtifactError, or a device that is not there
            raise ModelNotServable(f"model version {version_id} cannot be served: {err}") from err
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.topic_id == version.topic_id)
        .values(is_active=False)
    )
    version.is_active = True
    version.activated_at = utcnow()
    session.flush()
    return version


def active_model(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.topic_id == topic_id, ModelVersion.is_active.is_(True)
        )
    )


def rollback_model(
    session: Session, *, verify: bool = False, device: str = "cpu", topic_id: int = DEFAULT_TOPIC_ID
) -> ModelVersion:
    """Activate the topic's version that was active before the current one."""
    current = active_model(session, topic_id=topic_id)
    earlier = select(ModelVersion).where(
        ModelVersion.topic_id == topic_id, ModelVersion.activated_at.is_not(None)
    )
    if current is not None:
        earlier = earlier.where(ModelVersion.id != current.id)
    previous = session.scalar(earlier.order_by(ModelVersion.activated_at.desc()).limit(1))
    if previous is None:
        raise ModelVersionError("no earlier model version to roll back to")
    return activate_model(session, version_id=previous.id, verify=verify, device=device)


def list_models(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> list[ModelVersion]:
    """The topic's model versions, newest first."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.topic_id == topic_id)
            .order_by(ModelVersion.created_at.desc())
        )
    )


__all__ = [
    "ModelNotServable",
    "ModelVersionError",
    "activate_model",
    "active_model",
    "list_models",
    "register_model",
    "register_trained",
    "rollback_model",
    "version_threshold",
]
