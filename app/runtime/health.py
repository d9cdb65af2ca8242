"""What is wrong with the running service, in one list that ``/health``, ``/status`` and the page
all show: a service left alone for months fails visibly or not at all."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.digest.state import digest_problems
from app.jobs.retrain import last_retrain
from app.runtime.services import Services
from app.serving.registry import active_model
from app.store import queries
from app.store.categories import followed_categories
from app.store.schema import DEFAULT_TOPIC_ID, FIRST_READER_ID, Topic

NO_MODEL = "no model is active: papers are stored but not scored"
NO_TOPIC_MODEL = "this topic has no model yet: mark a paper ✓ in it and retrain it"


def service_problems(
    session: Session, services: Services, *, topic_id: int = DEFAULT_TOPIC_ID, public: bool = False
) -> list[str]:
    """Each thing that keeps the service from doing its daily work, in a sentence that says
    what to do; empty when all is well. The model, the last retrain and the digest are the
    topic's reader's; ``public`` (/health) names no reader's digest."""
    problems: list[str] = []
    settings, holder = services.settings, services.holders[topic_id]
    if active_model(session, topic_id=topic_id) is None:
        problems.append(NO_MODEL if topic_id == DEFAULT_TOPIC_ID else NO_TOPIC_MODEL)
    holder.get()  # looks at the model's files first: one broken since the last request is named
    if holder.last_error:
        problems.append(holder.last_error)
    for run in queries.latest_runs_by_day(session, days=settings.lookback_days + 4):
        if run.status in ("failed", "interrupted"):
            problems.append(f"the last ingestion of {run.day} {run.status}: {run.error}")
        elif run.status == "success" and run.fetched == 0 and run.day.weekday() < 5:
            problems.append(
                f"arXiv listed no papers on weekday {run.day} in "
                f"{', '.join(followed_categories(session, settings))}"
                "; the next run fetches the day again"
            )
    retrain = last_retrain(session, topic_id=topic_id)
    if retrain is not None and retrain.status in ("failed", "interrupted"):
        problems.append(f"the last retrain ({retrain.trigger}) {retrain.status}: {retrain.reason}")
    if services.scheduler is not None or services.jobs_elsewhere:
        now = dt.datetime.now(dt.timezone.utc)
        # Probe the lock only when the database says the run is missing: rarely.
        if services.job.missed_run(now) and not services.job.is_running():
            where = (
                "; is `arxiv-reco worker` running?"
                if services.jobs_elsewhere
                else "; see the last runs"
            )
            problems.append(
                f"the daily ingestion ({settings.schedule_cron} UTC) has not succeeded since its "
                f"last scheduled time{where}"
            )
    backup_error = services.job.last_backup_error
    if backup_error:
        problems.append(f"the last backup failed: {backup_error}")
    topic = session.get(Topic, topic_id)
    reader_id = topic.reader_id if topic is not None else FIRST_READER_ID
    # /health is anyone's: once readers are made it says how many digests failed, not whose.
    whose = None if public and services.readers.current().made else reader_id
    problems.extend(digest_problems(settings, whose, host_allowed=services.access.host_allowed))
    return problems
