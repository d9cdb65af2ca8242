"""The active model, loaded once and swapped when another version is activated."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.ml.registry import active_model
from training.artifact import ArtifactError
from training.predictor import Precision, Predictor, load_predictor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    version_id: int
    name: str
    threshold: float
    predictor: Predictor

    @property
    def method(self) -> str:
        return self.predictor.meta.method

    @property
    def regime(self) -> str:
        """early (training.early: few labels, a prior's threshold) or measured."""
        return str(self.predictor.meta.info.get("regime", "measured"))


class ModelHolder:
    """Serves the database's active model version; a newly activated one replaces it on the next
    call, without a restart. Loading failures are logged and the previous model stays."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        device: str,
        batch_size: int,
        precision: Precision = "auto",
        on_change: Callable[[LoadedModel], None] | None = None,
    ):
        self._sessions = sessions
        self._precision = precision
        self._on_change = on_change
        self._device, self._batch_size = device, batch_size
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @classmethod
    def from_settings(
        cls,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        on_change: Callable[[LoadedModel], None] | None = None,
    ) -> ModelHolder:
        """The holder the service, its job and the CLI use: device, batch and precision from
        the settings."""
        return cls(
            sessions,
            device=settings.device,
            batch_size=settings.score_batch_size,
            precision=settings.scoring_precision,
            on_change=on_change,
        )

    def get(self) -> LoadedModel | None:
        with self._sessions() as session:
            version = active_model(session)
            if version is None:
                return None
            version_id, name, path = version.id, version.name, version.path
        loaded = self._loaded
        if loaded is not None and loaded.version_id == version_id:
            return loaded
        with self._lock:
            if self._loaded is not None and self._loaded.version_id == version_id:
                return self._loaded
            try:
                predictor = load_predictor(
                    path,
                    device=self._device,
                    batch_size=self._batch_size,
                    precision=self._precision,
                )
            except (ArtifactError, OSError, ValueError) as err:
                self.last_error = f"cannot load model version {version_id} ({path}): {err}"
                if self._loaded is not None:
                    self.last_error += (
                        f"; still serving version {self._loaded.version_id} ({self._loaded.name})"
                    )
                logger.error(self.last_error)
                return self._loaded
            self.last_error = None
            self._loaded = LoadedModel(
                version_id=version_id,
                name=name,
                threshold=float(predictor.meta.threshold),
                predictor=predictor,
            )
            logger.info("serving model version %d (%s)", version_id, name)
            loaded = self._loaded
        if self._on_change is not None:
            self._on_change(loaded)
        return loaded
