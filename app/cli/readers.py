"""``readers``: the people of one install, made, listed, given new tokens and removed by whoever
runs it (the command needs the data directory, not a token). A token is printed once."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from app.cli.common import open_database
from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.lock import PROBE_GRACE_SECONDS, READER_REMOVAL, JobBusy
from app.jobs.scheduler import DailyJob
from app.serving.holder import ModelHolder
from app.serving.store import remove as remove_stored
from app.store.readers import (
    ReaderError,
    ReaderNotFound,
    add_reader,
    check_removable,
    find_reader,
    list_readers,
    remove_reader,
    renew_token,
    set_email,
)
from app.store.topics import list_topics, remove_model_directories


def cmd_readers(args: argparse.Namespace, settings: Settings) -> int:
    sessions = open_database(settings).sessions
    try:
        with session_scope(sessions) as session:
            if args.action == "add":
                made = add_reader(session, args.name, email=args.email)
                session.commit()
                took = (
                    " They take the install's topics, labels and models; from now on every "
                    "request names its reader by token."
                    if made.took_existing_data
                    else ""
                )
                print(f"added the reader {made.reader.name}.{took}")
                print(f"Their token (shown once; only its hash is kept): {made.token}")
            elif args.action == "token":
                token = renew_token(session, args.name)
                session.commit()
                print(f"a new token for {args.name.lower()} (the old one no longer works): {token}")
            elif args.action == "email":
                reader = set_email(session, find_reader(session, args.name), args.address)
                session.commit()
                print(f"{reader.name}'s digest goes to {reader.email or 'nobody'}")
            elif args.action == "remove":
                return _remove(session, sessions, args, settings)
            else:
                readers = list_readers(session)
                if not readers:
                    print("no readers yet: the install has one reader, with no token")
                    return 0
                print(f"{'reader':<24} {'topics':>6}  {'token made (UTC)':<17} digest to")
                for reader in readers:
                    topics = len(list_topics(session, reader.id))
                    made_at = (
                        f"{reader.token_created_at:%Y-%m-%d %H:%M}"
                        if reader.token_created_at
                        else ""
                    )
                    print(f"{reader.name:<24} {topics:>6}  {made_at:<17} {reader.email or '-'}")
    except (ReaderError, ReaderNotFound) as err:
        raise SystemExit(f"readers {args.action}: {err}") from None
    return 0


def _remove(
    session: Session,
    sessions: sessionmaker[Session],
    args: argparse.Namespace,
    settings: Settings,
) -> int:
    reader = find_reader(session, args.name)
    check_removable(reader)
    if not args.yes:
        if not sys.stdin.isatty():
            raise SystemExit(
                f"not removed: give --yes to remove the reader {reader.name} with their topics, "
                "labels, models and scores (their labels are exported first)"
            )
        answer = input(f"Remove {reader.name} with their topics, labels and models? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not removed")
            return 1
    job = DailyJob(sessions, settings, ModelHolder.from_settings(sessions, settings))
    try:
        with job.held(READER_REMOVAL, wait=PROBE_GRACE_SECONDS):
            removed = remove_reader(session, args.name, data_dir=settings.data_dir)
            session.commit()
    except JobBusy as busy:
        raise SystemExit(f"not removed: {busy}; remove the reader when it is done") from None
    directories = remove_model_directories(
        removed.model_paths, settings.resolved_model_dir, remove_stored
    )
    exported = (
        f"exported {removed.labels} labels to {removed.exported_to}; " if removed.labels else ""
    )
    print(
        f"{exported}removed the reader {removed.name} with {removed.topics} topics "
        f"({directories} model directories removed)"
    )
    return 0
