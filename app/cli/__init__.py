"""``arxiv-reco``: serve, ingest, label, train, evaluate, and keep the service.

This module is the parser; each command lives in a module of its own (``service``, ``data``,
``models``, ``digest``, ``train``), imported only when that command runs, so ``--help`` and a
quick command never load the model stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from app.cli.common import (
    count_arg,
    day_arg,
    load_settings,
    port_arg,
    seed_limit_arg,
    setup_logging,
    workers_arg,
)
from app.core.config import ENV_PREFIX
from app.label_import import FORMATS, SEED_LIMIT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arxiv-reco",
        description="Daily arXiv recommendations. Settings come from "
        f"{ENV_PREFIX}* environment variables or a .env file.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the API and the daily scheduler (with --workers N: N web processes and no "
        "scheduler; `arxiv-reco worker` runs the jobs)",
    )
    serve.add_argument("--host", help="bind address (default: settings)")
    serve.add_argument("--port", type=port_arg, help="port (default: settings)")
    serve.add_argument(
        "--workers",
        type=workers_arg,
        help="web processes (uvicorn workers) on the one port, none running the scheduler: run "
        "`arxiv-reco worker` beside them (default: one process that also runs the jobs)",
    )
    serve.set_defaults(run="service:cmd_serve")
    worker = sub.add_parser(
        "worker",
        help="run the jobs without the web: the daily ingestion, the nightly retrains, "
        "re-scoring, backups and digests (beside `serve --workers N`)",
    )
    worker.set_defaults(run="service:cmd_worker")
    ingest = sub.add_parser(
        "ingest", help="fetch, store and score a day (or a range); no --date: the last N days"
    )
    ingest.add_argument("--date", type=day_arg, help="first UTC day, YYYY-MM-DD")
    ingest.add_argument("--to", type=day_arg, help="last UTC day (inclusive), YYYY-MM-DD")
    ingest.set_defaults(run="data:cmd_ingest")
    labels = sub.add_parser("labels", help="import or export labels (the notebook's CSV layout)")
    labels_sub = labels.add_subparsers(dest="action", required=True)
    labels_import = labels_sub.add_parser(
        "import",
        help="import labels (all or nothing): a labelled CSV (or only paper_id,interest), arXiv "
        "ids or URLs one a line, BibTeX, or a Zotero / Mendeley export (CSL-JSON, RIS); papers "
        "not stored are fetched from arXiv",
    )
    labels_import.add_argument("file", type=Path)
    labels_import.add_argument(
        "--format",
        choices=FORMATS,
        help="the file's format (default: read from its content, the extension as a hint)",
    )
    labels_import.add_argument(
        "--prefer-file",
        action="store_true",
        help="where the file and a stored label disagree, take the file's even if the stored "
        "one was given later (default: the newer label wins)",
    )
    labels_export = labels_sub.add_parser("export", help="write all labels as CSV")
    labels_export.add_argument("file", type=Path, nargs="?", help="default: standard output")
    for command in (labels_import, labels_export):
        command.add_argument("--topic", help="the topic (default: the topic named default)")
    labels_export.add_argument(
        "--all-topics",
        action="store_true",
        help="every topic's labels, a topic column naming each row's (imports back whole)",
    )
    labels.set_defaults(run="data:cmd_labels")
    seed = sub.add_parser(
        "seed",
        help="find your own papers on arXiv by your name, and label the ones you pick interesting",
    )
    seed.add_argument(
        "--author", required=True, help='your name as arXiv lists it, e.g. "Geoffrey Hinton"'
    )
    choice = seed.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="take every paper listed")
    choice.add_argument(
        "--pick", metavar="1,3,5", help="the numbers of the listed papers to take (2-4: a range)"
    )
    seed.add_argument(
        "--limit",
        type=seed_limit_arg,
        default=SEED_LIMIT,
        help=f"newest papers listed (default and most: {SEED_LIMIT})",
    )
    seed.set_defaults(run="data:cmd_seed")
    models = sub.add_parser("models", help="list, activate or roll back model versions")
    models_sub = models.add_subparsers(dest="action", required=True)
    models_list = models_sub.add_parser("list", help="a topic's model versions (* = active)")
    models_activate = models_sub.add_parser("activate", help="serve a model version")
    models_activate.add_argument("version", type=int)
    models_rollback = models_sub.add_parser(
        "rollback", help="serve the previously active version again"
    )
    for command in (models_list, models_activate, models_rollback):
        command.add_argument("--topic", help="the topic (default: the topic named default)")
    models.set_defaults(run="models:cmd_models")
    retrain = sub.add_parser(
        "retrain", help="train on all stored labels; activate only if not worse than the active"
    )
    retrain.add_argument("--method", choices=["finetune", "tfidf", "embed"])
    retrain.add_argument("--tolerance", type=float, help="accepted loss of test AP (default 0)")
    retrain.add_argument("--force", action="store_true", help="activate whatever the result")
    retrain.add_argument("--topic", help="the topic to retrain (default: the topic named default)")
    retrain.set_defaults(run="models:cmd_retrain")
    demo = sub.add_parser(
        "demo", help="the whole product offline on a bundled sample of real papers, then serve"
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=Path("./demo-data"),
        help="where the demo's database and model go (default ./demo-data)",
    )
    demo.add_argument("--host", help="bind address (default: settings)")
    demo.add_argument("--port", type=port_arg, help="port (default: settings)")
    demo.add_argument("--no-serve", action="store_true", help="prepare only")
    demo.set_defaults(run="service:cmd_demo")
    backup = sub.add_parser(
        "backup",
        help="copy the database and write the labels CSV into the backup directory now (the "
        "service does it nightly); restore: see the README",
    )
    backup.add_argument(
        "--output", type=Path, help="directory (default: ARXIV_RECO_BACKUP_DIR or <data>/backups)"
    )
    backup.add_argument(
        "--keep",
        type=count_arg,
        help="keep this many newest backups there (default: ARXIV_RECO_BACKUP_KEEP; 0: all)",
    )
    backup.set_defaults(run="service:cmd_backup")
    digest = sub.add_parser(
        "digest",
        help="send the digest email of a day now (the service sends the newest day's after each "
        "daily run when ARXIV_RECO_SMTP_HOST is set)",
    )
    digest.add_argument(
        "--date", type=day_arg, help="the day, YYYY-MM-DD (default: the newest day not yet sent)"
    )
    digest.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing: print the plain-text part (and write the HTML part with --html)",
    )
    digest.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="with --dry-run: write the HTML part here (- : standard output)",
    )
    digest.add_argument(
        "--topic",
        help="only this topic's part, not recorded as the day's digest (default: a part for "
        "every topic with an active model)",
    )
    digest.set_defaults(run="digest:cmd_digest")
    token = sub.add_parser(
        "token",
        help="print the API token kept in the data directory (made if absent), which writes "
        "need when the service listens beyond this machine",
    )
    token.set_defaults(run="service:cmd_token")
    topics = sub.add_parser("topics", help="your interests: each has its own labels and model")
    topics_sub = topics.add_subparsers(dest="action", required=True)
    topics_sub.add_parser("list", help="every topic, its labels and its active model")
    topics_add = topics_sub.add_parser("add", help="a new topic (a slug, e.g. llm-evaluation)")
    topics_add.add_argument("name")
    topics_rename = topics_sub.add_parser("rename", help="rename a topic")
    topics_rename.add_argument("name")
    topics_rename.add_argument("new_name")
    topics_move = topics_sub.add_parser(
        "move", help="move a topic in your order (the page's switcher and the digest follow it)"
    )
    topics_move.add_argument("name")
    topics_move.add_argument("position", type=count_arg, help="0 is the first")
    topics_delete = topics_sub.add_parser(
        "delete", help="delete a topic with its labels, models and scores (labels exported first)"
    )
    topics_delete.add_argument("name")
    topics_delete.add_argument("--yes", action="store_true", help="do not ask")
    topics_delete.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="where its labels go first (default: <data>/exports/topic-NAME-TIME-labels.csv)",
    )
    topics.add_argument(
        "--reader",
        metavar="NAME",
        help="a reader's topics (default: the first reader's, the only one before readers)",
    )
    topics.set_defaults(run="topics:cmd_topics")
    readers = sub.add_parser(
        "readers",
        help="the people of a shared install: each has their own token, topics, labels, models "
        "and digest",
    )
    readers_sub = readers.add_subparsers(dest="action", required=True)
    readers_sub.add_parser("list", help="every reader, their topics and digest address")
    readers_add = readers_sub.add_parser(
        "add",
        help="a new reader and their token, printed once (the first one takes the install's "
        "topics, labels and models)",
    )
    readers_add.add_argument("name", help="a slug, e.g. ada")
    readers_add.add_argument("--email", help="where their digest goes")
    readers_token = readers_sub.add_parser(
        "token", help="a new token for a reader (printed once; the old one stops working)"
    )
    readers_token.add_argument("name")
    readers_email = readers_sub.add_parser("email", help="where a reader's digest goes")
    readers_email.add_argument("name")
    readers_email.add_argument("address", help='an address, or "" for no digest')
    readers_remove = readers_sub.add_parser(
        "remove",
        help="remove a reader with their topics, labels and models (labels exported first)",
    )
    readers_remove.add_argument("name")
    readers_remove.add_argument("--yes", action="store_true", help="do not ask")
    readers.set_defaults(run="readers:cmd_readers")
    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(run="service:cmd_migrate")
    migrate_to = sub.add_parser(
        "migrate-to",
        help="copy every row of this install's database (labels, topics, models, scores, "
        "papers) into another, empty one, e.g. a lab server's PostgreSQL; counts checked",
    )
    migrate_to.add_argument("url", help="the target, e.g. postgresql+psycopg://reco@db/arxiv_reco")
    migrate_to.set_defaults(run="service:cmd_migrate_to")
    sub.add_parser("train", help="train a model (see `arxiv-reco train --help`)", add_help=False)
    sub.add_parser("evaluate", help="evaluate a model on a labelled CSV", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("train", "evaluate"):
        settings = load_settings()
        setup_logging(settings)
        # Their options are the training library's: its parser reads them (train.py, training.cli).
        if argv[0] == "train":
            return int(importlib.import_module("app.cli.train").train_command(argv[1:], settings))
        return int(importlib.import_module("training.cli").evaluate_main(argv[1:]))
    args = build_parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings)
    module, name = args.run.split(":")
    command = getattr(importlib.import_module(f"app.cli.{module}"), name)
    # Here, not above: train, evaluate and --help answer without the database layer.
    from app.core.access import TokenFileError
    from app.core.db import DatabaseMissing

    try:
        return int(command(args, settings))
    except (DatabaseMissing, TokenFileError) as err:
        sys.exit(f"refused: {err}")


if __name__ == "__main__":
    sys.exit(main())
