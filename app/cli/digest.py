"""``digest``: a day's digest email, sent now or shown."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import open_database
from app.cli.models import topic_id_of
from app.core.config import ENV_PREFIX, Settings
from app.digest.compose import build_digest, next_digest_day
from app.digest.service import digest_recipients, send_digest, topic_models
from app.digest.state import DigestStateError, load_state
from app.serving.holder import ModelHolders
from app.store import queries
from app.store.schema import FIRST_READER_ID


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    if not args.dry_run and not settings.digest_enabled:
        raise SystemExit(
            f"no digest sent: {ENV_PREFIX}SMTP_HOST is not set (--dry-run shows the digest)"
        )
    try:
        last_sent = None if args.date else load_state(settings).last_day_sent
    except DigestStateError as err:
        raise SystemExit(f"no digest: {err}") from None
    sessions = open_database(settings).sessions
    with sessions() as session:  # the first reader's digest, at their own address if they gave one
        settings = dict(digest_recipients(session, settings)).get(FIRST_READER_ID, settings)
    holders = ModelHolders(sessions, settings)
    if args.topic is not None:
        topic_id = topic_id_of(sessions, args.topic, "digest")
        model = holders[topic_id].get()
        if model is None:
            raise SystemExit(
                f"no digest: the topic {args.topic!r} has no active model "
                f"(`arxiv-reco retrain --topic {args.topic}` makes one)"
            )
        models = [model]
    else:
        with sessions() as session:
            models = topic_models(session, holders)
        if not models:
            raise SystemExit("no digest: no model is active (`arxiv-reco retrain` makes one)")
    with sessions() as session:
        day = args.date or next_digest_day(session, last_sent=last_sent)
        if day is None:
            raise SystemExit(f"no digest: no day with papers since the digest of {last_sent}")
        if not queries.day_was_ingested(session, day=day):
            raise SystemExit(
                f"no digest: {day} has not been ingested (`arxiv-reco ingest --date {day}`)"
            )
        # By hand, a day's digest carries its weekend (for a Monday) whether sent or not.
        digest = build_digest(session, settings, models, day)
    if args.dry_run:
        print(f"Subject: {digest.subject}\n")
        sys.stdout.write(digest.text())
        if args.html is not None:
            if str(args.html) == "-":
                sys.stdout.write(digest.html())
            else:
                args.html.write_text(digest.html(), encoding="utf-8")
                print(f"wrote the HTML part to {args.html}", file=sys.stderr)
        return 0
    # One topic's part is not the day's digest: the daily one still goes out with every topic.
    outcome = send_digest(settings, digest, record=args.topic is None)
    if not outcome.sent:
        raise SystemExit(
            f"the digest of {day} was not sent ({outcome.tries} tries): {outcome.error}"
        )
    print(
        f"sent the digest of {day} ({digest.paper_count} papers) to {', '.join(settings.digest_to)}"
    )
    return 0
