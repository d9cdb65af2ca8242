"""The active model, loaded once and swapped when another version is activated."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.serving.registry import active_model
from app.serving.store import ModelStoreError, local_path
from app.store.schema import DEFAULT_TOPIC_ID
from app.store.topics import every_topic
from training.inference.artifact import ArtifactError
from training.inference.predictor import Precision, Predictor, load_predictor

logger = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """The active model's files cannot be loaded and no copy of it is loaded: whatever needed it
    to score (an ingestion) fails rather than storing its papers unscored as if all were well."""


# What a model directory looked like when it was loaded: each file's path, size and mtime.
Fingerprint = tuple[tuple[str, int, int], ...]


def files_fingerprint(path: str | Path) -> Fingerprint:
    """Each file of a model directory with its size and modification time (empty when the
    directory is gone): a file changed under the service changes it."""
    directory = Path(path)
    found = []
    try:
        for file in directory.rglob("*"):
            if file.is_file():
                stat = file.stat()
                found.append((str(file.relative_to(directory)), stat.st_size, stat.st_mtime_ns))
    except OSError:  # gone, or going while we look: loading it says what is wrong
        return ()
    return tuple(sorted(found))


@dataclass(frozen=True)
class LoadedModel:
    version_id: int
    name: str
    threshold: float
    predictor: Predictor
    fingerprint: Fingerprint = ()
    topic_id: int = DEFAULT_TOPIC_ID

    @property
    def method(self) -> str:
        return self.predictor.meta.method

    @property
    def regime(self) -> str:
        """early (training.early: few labels, a prior's threshold) or measured."""
        return str(self.predictor.meta.info.get("regime", "measured"))


class ModelHolder:
    """Serves the database's active model version; a newly activated one replaces it on the next
    call, without a restart. Loading failures are logged and the previous model stays.

    The active model's files are looked at on every call (a few ``stat``s): when they changed
    under the service (a new copy, a full disk, a corrupted file) they are loaded again, and a
    model that no longer loads is reported in ``last_error`` (``/health``: ``broken``) while the
    copy in memory goes on serving."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        device: str,
        batch_size: int,
        precision: Precision = "auto",
        on_change: Callable[[LoadedModel], None] | None = None,
        topic_id: int = DEFAULT_TOPIC_ID,
        background: bool = False,
    ):
        self._sessions = sessions
        self.topic_id = topic_id
        # A newly activated version is loaded in a thread while the one loaded goes on serving,
        # then switched to at once (the web processes of `serve --workers`).
        self.background = background
        self._loading: threading.Thread | None = None
        self._loading_lock = threading.Lock()
        self._precision = precision
        self._on_change = on_change
        self._device, self._batch_size = device, batch_size
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        # The version and files that last failed to load: not tried again until either changes.
        self._failed: tuple[int, Fingerprint] | None = None
        self.last_error: str | None = None

    @classmethod
    def from_settings(
        cls,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        on_change: Callable[[LoadedModel], None] | None = None,
        topic_id: int = DEFAULT_TOPIC_ID,
        background: bool = False,
    ) -> ModelHolder:
        """The holder the service, its job and the CLI use for a topic's active model: device,
        batch and precision from the settings."""
        return cls(
            sessions,
            device=settings.device,
            batch_size=settings.score_batch_size,
            precision=settings.scoring_precision,
            on_change=on_change,
            topic_id=topic_id,
            background=background,
        )

    def get(self, *, wait: bool = False) -> LoadedModel | None:
        """The active version, loaded; with ``background`` a newly activated one is loaded in a
        thread while the one loaded is returned, unless ``wait`` (scoring: never with a version
        that is not the active one)."""
        with self._sessions() as session:
            version = active_model(session, topic_id=self.topic_id)
            if version is None:
                return None
            version_id, name, stored = version.id, version.name, version.path
        try:  # a model in a store is read from this machine's copy, downloaded once
            path = str(local_path(stored))
        except ModelStoreError as err:
            with self._lock:
                self.last_error = self._load_error(version_id, stored, err)
            logger.error(self.last_error)
            return self._loaded
        fingerprint = files_fingerprint(path)
        if self._current(version_id, fingerprint):
            return self._loaded
        serving = self._loaded
        if (
            self.background
            and not wait
            and serving is not None
            and serving.version_id != version_id
        ):
            self._load_in_background(version_id, name, path, fingerprint)
            return serving
        return self._load(version_id, name, path, fingerprint)

    def _load_in_background(
        self, version_id: int, name: str, path: str, fingerprint: Fingerprint
    ) -> None:
        with self._loading_lock:
            if self._loading is not None and self._loading.is_alive():
                return
            self._loading = threading.Thread(
                target=self._load_quietly,
                args=(version_id, name, path, fingerprint),
                name=f"load-model-{version_id}",
                daemon=True,
            )
            self._loading.start()
        logger.info(
            "loading model version %d in the background; serving the one loaded", version_id
        )

    def _load_quietly(
        self, version_id: int, name: str, path: str, fingerprint: Fingerprint
    ) -> None:
        """The background load: a version no longer active by the time it would be switched
        to is not served, and any failure is recorded (``last_error``), never retried until
        the version or its files change."""
        try:
            with self._sessions() as session:
                active = active_model(session, topic_id=self.topic_id)
            if active is None or active.id != version_id:
                return  # activated and replaced meanwhile: the next call loads the active one
            self._load(version_id, name, path, fingerprint)
        except Exception as err:
            with self._lock:
                self._failed = (version_id, fingerprint)
                self.last_error = self._load_error(version_id, path, err)
            logger.exception(self.last_error)

    def _load(
        self, version_id: int, name: str, path: str, fingerprint: Fingerprint
    ) -> LoadedModel | None:
        """Load a version and serve it (the previous one stays when it cannot be loaded)."""
        with self._lock:
            if self._current(version_id, fingerprint):
                return self._loaded
            try:
                predictor = load_predictor(
                    path,
                    device=self._device,
                    batch_size=self._batch_size,
                    precision=self._precision,
                )
            except (ArtifactError, OSError, ValueError) as err:
                self._failed = (version_id, fingerprint)
                self.last_error = self._load_error(version_id, path, err)
                logger.error(self.last_error)
                return self._loaded
            self._failed = None
            self.last_error = None
            self._loaded = LoadedModel(
                version_id=version_id,
                name=name,
                threshold=float(predictor.meta.threshold),
                predictor=predictor,
                fingerprint=fingerprint,
                topic_id=self.topic_id,
            )
            logger.info("serving model version %d (%s)", version_id, name)
            loaded = self._loaded
        if self._on_change is not None:
            self._on_change(loaded)
        return loaded

    def for_scoring(self) -> LoadedModel | None:
        """The model to score new papers with, as ``get``; None when no model is active, and
        ModelUnavailable when one is active but neither it nor an earlier model can be loaded
        (as in a job's fresh process after the model's files broke)."""
        loaded = self.get(wait=True)
        if loaded is None and self.last_error:
            raise ModelUnavailable(self.last_error)
        return loaded

    def _current(self, version_id: int, fingerprint: Fingerprint) -> bool:
        """Nothing to load: the loaded copy is this version's files as they are, or these very
        files failed to load last time (``last_error`` says so)."""
        loaded = self._loaded
        if loaded is not None and (loaded.version_id, loaded.fingerprint) == (
            version_id,
            fingerprint,
        ):
            if self._failed is not None:  # the files are back as they were when loaded
                logger.info("the files of model version %d are as loaded again", version_id)
                self._failed, self.last_error = None, None
            return True
        return self._failed == (version_id, fingerprint)

    def _load_error(self, version_id: int, path: str, err: Exception) -> str:
        loaded = self._loaded
        if loaded is not None and loaded.version_id == version_id:
            return (
                f"the files of model version {version_id} ({path}) changed and no longer load: "
                f"{err}; still serving the copy loaded before it changed; retrain, or activate "
                "another model version"
            )
        message = f"cannot load model version {version_id} ({path}): {err}"
        if loaded is not None:
            message += f"; still serving version {loaded.version_id} ({loaded.name})"
        return message


class ModelHolders:
    """One ``ModelHolder`` per topic, made on first use and kept: each topic serves its own active
    model. They share the settings and the ``on_change`` callback (whose ``LoadedModel`` names
    its topic); ``default`` is the default topic's."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        on_change: Callable[[LoadedModel], None] | None = None,
        default: ModelHolder | None = None,
        background: bool = False,
    ):
        self._sessions, self._settings, self._on_change = sessions, settings, on_change
        self._background = background
        self.default = default or ModelHolder.from_settings(
            sessions,
            settings,
            on_change=on_change,
            topic_id=DEFAULT_TOPIC_ID,
            background=background,
        )
        self._holders: dict[int, ModelHolder] = {self.default.topic_id: self.default}
        self._lock = threading.Lock()

    def __getitem__(self, topic_id: int) -> ModelHolder:
        holder = self._holders.get(topic_id)
        if holder is not None:
            return holder
        with self._lock:
            return self._holders.setdefault(
                topic_id,
                ModelHolder.from_settings(
                    self._sessions,
                    self._settings,
                    on_change=self._on_change,
                    topic_id=topic_id,
                    background=self._background,
                ),
            )

    def others_for_scoring(self) -> list[LoadedModel]:
        """Every other topic's active model, every reader's, to score new papers beside
        the default topic's; one that cannot be loaded is logged and left out (never raises)."""
        with self._sessions() as session:
            topic_ids = [t.id for t in every_topic(session) if t.id != self.default.topic_id]
        models = []
        for topic_id in topic_ids:
            try:
                loaded = self[topic_id].get(wait=True)
            except Exception:
                logger.exception("the model of topic %d could not be loaded to score", topic_id)
                continue
            if loaded is not None:
                models.append(loaded)
        return models

    def forget(self, topic_id: int) -> None:
        """Drop a deleted topic's holder and its model."""
        if topic_id != self.default.topic_id:
            with self._lock:
                self._holders.pop(topic_id, None)
