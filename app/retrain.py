"""Retraining that cannot make things worse by accident.

A new model is trained on every stored label; it replaces the active one only if, on the same
test split, its average precision is not worse (within a tolerance). The old one stays registered,
so ``arxiv-reco models rollback`` brings it back.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import session_scope
from app.core.priority import lower_thread_priority
from app.labels import load_labels
from app.ml.registry import activate_model, active_model, register_trained

logger = logging.getLogger(__name__)


@dataclass
class RetrainOutcome:
    version_id: int
    name: str
    method: str
    labels: int
    new_average_precision: float | None
    active_version_id: int | None
    active_average_precision: float | None
    activated: bool
    reason: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    method: str | None = None,
    tolerance: float | None = None,
    force: bool = False,
) -> RetrainOutcome:
    # Training is loaded only when a retrain runs: the service starts without it.
    from training.config import TrainConfig
    from training.layout import paper_inputs
    from training.metrics import split_metrics
    from training.predictor import load_predictor, score_papers
    from training.split import split_by_date
    from training.train import train

    started = time.perf_counter()
    method = method or settings.retrain_method
    tolerance = settings.retrain_tolerance if tolerance is None else tolerance
    with sessions() as session:
        frame = load_labels(session)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = f"{method}-{stamp}"
    # A tfidf retrain of a few hundred labels takes under a second: never reuse a folder.
    suffix = 1
    while (settings.resolved_model_dir / name).exists():
        suffix += 1
        name = f"{method}-{stamp}-{suffix}"
    config = TrainConfig(
        output=str(settings.resolved_model_dir / name),
        method=method,
        base_model=settings.retrain_base_model,
        device=settings.device,
        threshold_strategy=settings.retrain_threshold_strategy,
        threshold_target=settings.retrain_threshold_target,
        progress=False,
    )
    result = train(config, frame=frame, source="the service's labels", name=name)
    version_id = register_trained(sessions, result.path, result.meta, name=name, activate=False)
    new_ap = result.metrics["test"]["average_precision"]

    with sessions() as session:
        active = active_model(session)
        active_id, active_path = (active.id, active.path) if active else (None, None)
    active_ap = None
    if active_path is not None:
        # The active model on the very rows the new one was tested on.
        test = split_by_date(
            frame, val_fraction=config.val_fraction, test_fraction=config.test_fraction
        ).test
        predictor = load_predictor(active_path, device=settings.device)
        scores = score_papers(predictor, paper_inputs(test))
        active_ap = split_metrics(
            test["interest"].to_numpy(), scores, threshold=predictor.meta.threshold, days=1
        )["average_precision"]

    if force:
        activate, reason = True, "activated by request (--force)"
    elif active_ap is None:
        activate, reason = True, "no model was active"
    elif new_ap is not None and new_ap >= active_ap - tolerance:
        activate = True
        reason = f"test AP {new_ap:.4f} is not worse than the active model's {active_ap:.4f}"
    else:
        activate = False
        reason = (
            f"kept the active model: test AP {new_ap} is worse than its {active_ap:.4f} "
            f"(tolerance {tolerance}); `arxiv-reco models activate {version_id}` "
            "would serve it anyway"
        )
    if activate:
        with session_scope(sessions) as session:
            activate_model(session, version_id=version_id)
    logger.info("retrained %s on %d labels: %s", name, len(frame), reason)
    return RetrainOutcome(
        version_id=version_id,
        name=name,
        method=method,
        labels=len(frame),
        new_average_precision=new_ap,
        active_version_id=active_id,
        active_average_precision=active_ap,
        activated=activate,
        reason=reason,
        seconds=time.perf_counter() - started,
    )


class RetrainRunner:
    """One retrain at a time in the background, for the page's button."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions, self.settings = sessions, settings
        self._lock = threading.Lock()
        self.state: dict[str, Any] = {"state": "idle", "message": None, "activated": False}

    def start(self) -> bool:
        with self._lock:
            if self.state["state"] == "running":
                return False
            self.state = {"state": "running", "message": "retraining", "activated": False}
        threading.Thread(target=self._run, name="retrain", daemon=True).start()
        return True

    def _run(self) -> None:
        lower_thread_priority(self.settings.background_nice)
        try:
            outcome = retrain(self.sessions, self.settings)
        except Exception as err:  # shown to the user on the page and in the log
            logger.exception("retrain failed")
            self.state = {"state": "failed", "message": f"{err}", "activated": False}
            return
        self.state = {
            "state": "done",
            "message": f"{outcome.name}: {outcome.reason}",
            "activated": outcome.activated,
            "outcome": outcome.as_dict(),
        }
