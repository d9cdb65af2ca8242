"""A day's list (app.serving.day): whose scores it shows while a new model re-scores."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from app.core.db import session_scope
from app.serving.day import list_model
from app.store.schema import DEFAULT_TOPIC_ID, ModelVersion, Score
from app.store.topics import create_topic
from tests.factories import paper_row

DAY = dt.date(2025, 3, 19)


def test_another_topics_scores_never_stand_in_for_a_model_still_rescoring(
    sessions, tfidf_meta_model_dir
):
    """Topic ml's new model has scored none of the day; the default topic's model has scored
    all of it: ml's list stays its own model's (pending), never the default topic's."""
    with session_scope(sessions) as session:
        ml = create_topic(session, "ml").id
        for n in range(3):
            session.add(paper_row(f"2503.0000{n}", submitted_on=DAY))
        default = ModelVersion(
            topic_id=DEFAULT_TOPIC_ID, name="d", path=str(tfidf_meta_model_dir), method="tfidf"
        )
        own = ModelVersion(topic_id=ml, name="ml", path="/m/ml", method="tfidf")
        session.add_all([default, own])
        session.flush()
        for n in range(3):
            session.add(
                Score(paper_id=f"2503.0000{n}", model_version_id=default.id, probability=0.9)
            )
        active = SimpleNamespace(
            version_id=own.id, name="ml", method="tfidf", threshold=0.5, topic_id=ml
        )
        listed = list_model(session, day=DAY, active=active)  # type: ignore[arg-type]
        assert (listed.version_id, listed.rescoring) == (own.id, False)
