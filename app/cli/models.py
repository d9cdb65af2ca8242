"""``models`` and ``retrain``: the model versions, and a retrain from the command line."""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session, sessionmaker

from app.cli.common import open_database
from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.lock import CLI_RETRAIN, PROBE_GRACE_SECONDS, JobBusy
from app.jobs.retrain import retrain
from app.jobs.scheduler import DailyJob
from app.serving.holder import ModelHolder
from app.serving.registry import (
    ModelVersionError,
    activate_model,
    list_models,
    rollback_model,
    version_threshold,
)
from app.store.schema import DEFAULT_TOPIC
from app.store.topics import TopicNotFound, find_topic
from training.config import ConfigError
from training.inference.layout import DataError


def topic_id_of(sessions: sessionmaker[Session], name: str | None, command: str) -> int:
    """The id of ``--topic NAME`` (default: the default topic); exits naming an unknown one."""
    with sessions() as session:
        try:
            return find_topic(session, name or DEFAULT_TOPIC).id
        except TopicNotFound as err:
            raise SystemExit(f"{command}: {err}") from None


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    sessions = open_database(settings).sessions
    topic_id = topic_id_of(sessions, args.topic, f"models {args.action}")
    try:
        with session_scope(sessions) as session:
            if args.action == "activate":
                activate_model(
                    session,
                    version_id=args.version,
                    verify=True,
                    device=settings.device,
                    topic_id=topic_id,
                )
            elif args.action == "rollback":
                rollback_model(session, verify=True, device=settings.device, topic_id=topic_id)
            versions = list_models(session, topic_id=topic_id)
    except ModelVersionError as err:
        raise SystemExit(str(err)) from None
    print(f"{'':1} {'id':>3}  {'name':<28} {'method':<8} {'threshold':>9} {'test AP':>7}  created")
    for v in versions:
        ap = (v.metrics or {}).get("test", {}).get("average_precision")
        threshold = version_threshold(v)
        print(
            f"{'*' if v.is_active else ' '} {v.id:>3}  {v.name[:28]:<28} {v.method:<8} "
            f"{'?' if threshold is None else format(threshold, '.4f'):>9} "
            f"{ap if ap is None else format(ap, '.4f'):>7}  "
            f"{v.created_at:%Y-%m-%d %H:%M}"
        )
    return 0


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    sessions = open_database(settings).sessions
    topic_id = topic_id_of(sessions, args.topic, "retrain")
    # The job's one lock, as the service's retrains and ingestions take it: never two retrains
    # activating their models side by side.
    job = DailyJob(sessions, settings, ModelHolder.from_settings(sessions, settings))
    try:
        with job.held(CLI_RETRAIN, wait=PROBE_GRACE_SECONDS):
            outcome = retrain(
                sessions,
                settings,
                method=args.method,
                tolerance=args.tolerance,
                force=args.force,
                topic_id=topic_id,
            )
    except JobBusy as busy:
        raise SystemExit(
            f"not retrained: {busy} (the service's or another command's); "
            "retrain again when it is done (see /status)"
        ) from None
    except (DataError, ConfigError) as err:
        raise SystemExit(f"retrain refused: {err}") from None
    print(
        f"trained {outcome.name} on {outcome.labels} labels in {outcome.seconds:.1f}s "
        f"(version {outcome.version_id}); {outcome.reason}"
    )
    return 0
