"""Re-scoring: every stored day scored with a newly activated model, newest day first, in
committed batches (until a day is done its list keeps the previous model's scores); and the
nightly part of the daily job that leads to it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs.child import child_state
from app.jobs.retrain import RetrainOutcome, nightly_retrain
from app.serving.holder import ModelHolder
from app.serving.scoring import score_pending


def after_ingestion(
    sessions: sessionmaker[Session], settings: Settings, holder: ModelHolder
) -> RetrainOutcome | None:
    """The nightly part of the daily job: retrain when the labels changed and, when the gate
    activates the new model, score every stored day with it, newest first."""
    outcome = nightly_retrain(sessions, settings)
    if outcome is not None and outcome.activated:
        rescore_until_current(sessions, holder)
    return outcome


def rescore_in_child(settings: Settings) -> int:
    with child_state(settings) as (sessions, holder):
        return rescore_until_current(sessions, holder)


def rescore_until_current(sessions: sessionmaker[Session], holder: ModelHolder) -> int:
    """Score every stored day with the active model; when another model was activated
    meanwhile (its own re-scoring request was skipped while this one ran), go again for it."""
    total = 0
    while True:
        loaded = holder.get()
        if loaded is None:
            return total
        total += score_pending(sessions, loaded, days=None)
        now = holder.get()
        if now is None or now.version_id == loaded.version_id:
            return total
