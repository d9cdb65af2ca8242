"""Re-scoring: every stored day scored with a newly activated model, newest day first, in
committed batches (until a day is done its list keeps the previous model's scores); and the
nightly part of the daily job that leads to it."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs.child import child_state
from app.jobs.retrain import RetrainOutcome, nightly_retrain
from app.serving.holder import ModelHolder, ModelHolders
from app.serving.scoring import score_pending
from app.store.schema import DEFAULT_TOPIC_ID
from app.store.topics import every_topic

logger = logging.getLogger(__name__)


def after_ingestion(
    sessions: sessionmaker[Session],
    settings: Settings,
    holder: ModelHolder,
    *,
    holders: ModelHolders | None = None,
) -> RetrainOutcome | None:
    """The nightly part of the daily job, every reader's topics, one after another: retrain when
    the topic's labels changed and, when the gate activates the new model, score every stored
    day with it, newest first. Another topic's model also scores the papers the ingestion
    stored (the ingestion scores with the default topic's). A topic's failed retrain is
    recorded on its run and logged; the next topic goes on. Returns the default topic's
    outcome (``holder`` is its model)."""
    holders = holders or ModelHolders(sessions, settings, default=holder)
    with sessions() as session:
        topic_ids = [topic.id for topic in every_topic(session)]
    default_outcome = None
    for topic_id in topic_ids:
        try:  # one topic's failure (recorded on its run, if it got one) never stops the others
            outcome = nightly_retrain(sessions, settings, topic_id=topic_id)
            if topic_id == holder.topic_id:
                default_outcome = outcome
            if (outcome is not None and outcome.activated) or topic_id != holder.topic_id:
                rescore_until_current(sessions, holders[topic_id])
        except Exception:
            logger.exception("the nightly part of topic %d failed", topic_id)
    return default_outcome


def score_other_topics(sessions: sessionmaker[Session], holders: ModelHolders) -> int:
    """After an ingestion (which scores with the default topic's model), every other topic's
    model scores what is left; one topic's failure never stops the others."""
    with sessions() as session:
        topic_ids = [t.id for t in every_topic(session) if t.id != holders.default.topic_id]
    scored = 0
    for topic_id in topic_ids:
        try:
            scored += rescore_until_current(sessions, holders[topic_id])
        except Exception:
            logger.exception("scoring with the model of topic %d failed", topic_id)
    return scored


def rescore_in_child(settings: Settings, *, topic_id: int = DEFAULT_TOPIC_ID) -> int:
    with child_state(settings, topic_id=topic_id) as (sessions, holder):
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
