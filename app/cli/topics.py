"""``topics``: the reader's interests, listed, added, renamed, moved and deleted."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from app.cli.common import open_database
from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.lock import PROBE_GRACE_SECONDS, TOPIC_DELETION, JobBusy
from app.jobs.scheduler import DailyJob
from app.serving.holder import ModelHolder
from app.serving.registry import active_model
from app.serving.store import remove as remove_stored
from app.store import queries
from app.store.labels import export_labels_csv
from app.store.readers import ReaderNotFound, find_reader
from app.store.schema import FIRST_READER_ID
from app.store.topics import (
    TopicError,
    TopicNotFound,
    check_deletable,
    create_topic,
    delete_topic,
    find_topic,
    labels_export_path,
    list_topics,
    move_topic,
    remove_model_directories,
    rename_topic,
)


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    sessions = open_database(settings).sessions
    try:
        with session_scope(sessions) as session:
            reader = (
                find_reader(session, args.reader).id
                if getattr(args, "reader", None)
                else FIRST_READER_ID
            )
            if args.action == "add":
                print(f"added the topic {create_topic(session, args.name, reader).name}")
            elif args.action == "rename":
                topic = rename_topic(session, args.name, args.new_name, reader)
                print(f"renamed the topic {args.name} to {topic.name}")
            elif args.action == "move":
                move_topic(session, args.name, args.position, reader)
                order = ", ".join(t.name for t in list_topics(session, reader))
                print(f"moved the topic {args.name.lower()}: {order}")
            elif args.action == "delete":
                return _delete(session, sessions, args, settings, reader)
            else:
                print(f"{'topic':<32} {'labels':>6}  active model")
                for topic in list_topics(session, reader):
                    active = active_model(session, topic_id=topic.id)
                    labels = queries.label_count(session, topic_id=topic.id)
                    shown = f"{active.id} ({active.name})" if active is not None else "none"
                    print(f"{topic.name:<32} {labels:>6}  {shown}")
    except (TopicError, TopicNotFound, ReaderNotFound) as err:
        raise SystemExit(f"topics {args.action}: {err}") from None
    return 0


def _delete(
    session: Session,
    sessions: sessionmaker[Session],
    args: argparse.Namespace,
    settings: Settings,
    reader: int,
) -> int:
    topic = find_topic(session, args.name, reader)
    check_deletable(topic)
    if not args.yes:
        if not sys.stdin.isatty():
            raise SystemExit(
                f"not deleted: give --yes to delete the topic {topic.name} and its labels, "
                "models and scores (its labels are exported first)"
            )
        answer = input(f"Delete the topic {topic.name}, its labels, models and scores? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return 1
    export = args.export or labels_export_path(settings.data_dir, topic.name)
    # The job's one lock, as the service's: never beside a retrain of the topic.
    job = DailyJob(sessions, settings, ModelHolder.from_settings(sessions, settings))
    try:
        with job.held(TOPIC_DELETION, wait=PROBE_GRACE_SECONDS):
            exported = export_labels_csv(session, export, topic_id=topic.id)
            deleted = delete_topic(session, topic.name, reader)
            session.commit()
    except JobBusy as busy:
        raise SystemExit(f"not deleted: {busy}; delete the topic when it is done") from None
    removed = remove_model_directories(
        deleted.model_paths, settings.resolved_model_dir, remove_stored
    )
    print(
        f"exported {exported} labels to {export}; deleted the topic {deleted.name} with "
        f"{deleted.model_versions} model versions ({removed} directories removed) and "
        f"{deleted.retrain_runs} retrain runs"
    )
    return 0
