"""GET /retrain answers alike from every web process of ``serve --workers`` (issue 20): the page
polls whichever process its request lands on, and only one of them ran the retrain."""

from __future__ import annotations

import datetime as dt

from app.core.db import session_scope
from app.main import create_app
from app.store.schema import RetrainRun, utcnow
from tests.factories import activate_model_dir, local_client


def _since(moment: dt.datetime) -> dict[str, str]:
    return {"since": moment.isoformat()}


def test_a_retrain_run_in_another_process_is_answered_from_the_database(
    settings, sessions, tfidf_meta_model_dir
):
    version_id = activate_model_dir(sessions, tfidf_meta_model_dir)
    posted = utcnow() - dt.timedelta(minutes=10)  # when the other process's POST answered
    with local_client(create_app(settings)) as other:  # never ran a retrain itself
        assert other.get("/retrain").json()["state"] == "idle"
        # A POST's retrain, started elsewhere, not recorded yet: starting for a minute, then
        # not waited on.
        starting = other.get("/retrain", params=_since(utcnow() - dt.timedelta(seconds=20)))
        assert starting.json()["state"] == "running"
        gone = other.get("/retrain", params=_since(utcnow() - dt.timedelta(minutes=2)))
        assert gone.json()["state"] == "idle"
        with session_scope(sessions) as session:
            run = RetrainRun(trigger="page", method="tfidf", started_at=posted)
            session.add(run)
            session.flush()
            run_id = run.id
        assert other.get("/retrain", params=_since(posted)).json()["state"] == "running"
        with session_scope(sessions) as session:
            run = session.get_one(RetrainRun, run_id)
            run.status, run.activated, run.model_version_id = "success", True, version_id
            run.reason, run.finished_at = "better than the active model", utcnow()
        done = other.get("/retrain", params=_since(posted)).json()
        assert done["state"] == "done" and done["activated"] is True
        assert done["outcome"] == {"version_id": version_id}
        assert done["message"].endswith(": better than the active model")
        assert other.get("/retrain").json()["state"] == "done"  # an API client, no since
        naive = other.get("/retrain", params={"since": "2026-01-01T00:00:00"})
        assert naive.status_code == 422
