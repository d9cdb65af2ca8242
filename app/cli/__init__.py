"""``arxiv-reco``: serve, ingest, migrate, train, evaluate."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.core.config import ENV_PREFIX, Settings
from app.label_import import FORMATS, SEED_LIMIT

if TYPE_CHECKING:
    from app.core.db import Database

logger = logging.getLogger("app.cli")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {port}")
    return port


def _load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as err:
        lines = [
            f"  {ENV_PREFIX}{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            f" (got {e.get('input')!r})"
            for e in err.errors()
        ]
        sys.exit("invalid settings:\n" + "\n".join(lines))
    legacy = Path("data") / "arxiv_reco.db"
    if "data_dir" not in settings.model_fields_set and legacy.exists():
        print(
            f"note: {legacy.absolute()} is a database of the old default data directory "
            f"./data; this command uses {settings.data_dir}. Set {ENV_PREFIX}DATA_DIR="
            f"{legacy.parent.absolute()} to keep using it.",
            file=sys.stderr,
        )
    return settings


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic's INFO lines ("Context impl SQLiteImpl", its plugins) would open every command;
    # the migrations log a line of their own per revision applied (migrations/env.py).
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _database(settings: Settings) -> Database:
    """The command's one database, brought up to date, in a data directory for its owner
    only."""
    from app.core.db import Database
    from app.core.private_files import private_directory

    private_directory(settings.data_dir, close_existing=True)
    return Database(settings.resolved_database_url)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.core.db import check_not_lost, sqlite_file
    from app.main import create_app

    database_file = sqlite_file(settings.resolved_database_url)
    if database_file is not None:
        check_not_lost(database_file)  # before uvicorn, which would bury it in a traceback
    # The bind address decides the access rules (app.core.access), so the app sees the real one.
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    uvicorn.run(
        create_app(settings, settle_heap=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from app.jobs.backup import BackupError, take_backup

    try:
        backup = take_backup(
            settings, _database(settings).sessions, directory=args.output, keep=args.keep
        )
    except BackupError as err:
        raise SystemExit(f"no backup: {err}") from None
    print(f"wrote {backup.database} and {backup.labels}")
    if backup.removed:
        print(f"removed {len(backup.removed)} older backup files")
    return 0


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    from app.digest.compose import build_digest, next_digest_day
    from app.digest.service import send_digest
    from app.digest.state import DigestStateError, load_state
    from app.serving.holder import ModelHolder
    from app.store import queries

    if not args.dry_run and not settings.digest_enabled:
        raise SystemExit(
            f"no digest sent: {ENV_PREFIX}SMTP_HOST is not set (--dry-run shows the digest)"
        )
    try:
        last_sent = None if args.date else load_state(settings).last_day_sent
    except DigestStateError as err:
        raise SystemExit(f"no digest: {err}") from None
    sessions = _database(settings).sessions
    model = ModelHolder.from_settings(sessions, settings).get()
    if model is None:
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
        digest = build_digest(session, settings, model, day)
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
    outcome = send_digest(settings, digest)
    if not outcome.sent:
        raise SystemExit(
            f"the digest of {day} was not sent ({outcome.tries} tries): {outcome.error}"
        )
    print(
        f"sent the digest of {day} ({digest.paper_count} papers) to {', '.join(settings.digest_to)}"
    )
    return 0


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {count}")
    return count


def _seed_limit(value: str) -> int:
    count = _count(value)
    if not 1 <= count <= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {SEED_LIMIT}, got {count}")
    return count


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.access import is_loopback, stored_token

    if settings.api_token is not None:
        raise SystemExit(f"the token is set by {ENV_PREFIX}API_TOKEN; nothing is stored")
    print(stored_token(settings.data_dir))
    if is_loopback(settings.host):
        print(
            f"note: the service listens on {settings.host} ({ENV_PREFIX}HOST), where it takes "
            "writes from this machine without a token; the token is needed when it listens "
            "beyond it",
            file=sys.stderr,
        )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _database(settings).dispose()
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from app.jobs.ingest import RangeError, check_range
    from app.jobs.scheduler import DailyJob
    from app.serving.holder import ModelHolder

    if args.date is None and args.to is not None:
        raise SystemExit("--to needs --date")
    if args.date is not None:
        try:
            check_range(args.date, args.to or args.date, settings)
        except RangeError as err:
            raise SystemExit(f"nothing ingested: {err}") from None
    sessions = _database(settings).sessions
    job = DailyJob(sessions, settings, ModelHolder.from_settings(sessions, settings))
    job.sweep_interrupted()
    # The same lock as the service's daily job: never two ingestions of one database at once.
    if job.is_running():
        raise SystemExit(
            f"nothing ingested: {job.lock_holder()} is already running (the service's or another "
            "command's); try again when it is done (see /status)"
        )
    if args.date is None:
        reports = job.run(trigger="manual")
    else:
        reports = job.run_range(args.date, args.to or args.date, trigger="manual")
    print(f"{'day':<10}  {'status':<7}  {'fetched':>7}  {'new':>5}  {'updated':>7}  {'scored':>6}")
    for r in reports:
        print(
            f"{r.day.isoformat():<10}  {r.status:<7}  {r.fetched:>7}  {r.new:>5}  "
            f"{r.updated:>7}  {r.scored:>6}" + (f"  {r.error}" if r.error else "")
        )
    return 1 if any(r.status != "success" for r in reports) else 0


def cmd_labels(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.db import session_scope
    from app.store.labels import export_labels_csv, labels_csv_text

    sessions = _database(settings).sessions
    if args.action == "import":
        from app.jobs.arxiv_source import ArxivClient, FetchError
        from app.label_import.service import import_file
        from training.inference.layout import DataError

        try:
            with session_scope(sessions) as session:
                report = import_file(
                    session,
                    args.file,
                    client=ArxivClient(settings),
                    format=args.format,
                    prefer_file=args.prefer_file,
                )
        except (DataError, FetchError) as err:
            raise SystemExit(f"nothing imported: {err}") from None
        print("\n".join(report.lines()))
        return 0
    with sessions() as session:
        if args.file is None:
            sys.stdout.write(labels_csv_text(session))
        else:
            print(f"wrote {export_labels_csv(session, args.file)} labels to {args.file}")
    return 0


def _picks(text: str, count: int) -> list[int]:
    """``1,3,5`` or ``2-4`` (or ``all``) as 0-based indexes into a list of ``count``."""
    if text.strip().lower() == "all":
        return list(range(count))
    chosen: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"{part!r} is not a number or a range like 2-4") from None
        if not 1 <= low <= high <= count:
            raise ValueError(f"{part!r} is not among the numbers 1 to {count}")
        chosen += [i - 1 for i in range(low, high + 1) if i - 1 not in chosen]
    return chosen


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.db import session_scope
    from app.jobs.arxiv_source import ArxivClient, FetchError
    from app.label_import.service import author_candidates, chosen_papers, import_references

    sessions = _database(settings).sessions
    client = ArxivClient(settings)
    try:
        with sessions() as session:
            candidates = author_candidates(
                session, client=client, name=args.author, limit=args.limit
            )
    except ValueError as err:
        raise SystemExit(f"no search: {err}") from None
    except FetchError as err:
        raise SystemExit(f"no search: {err}") from None
    if not candidates:
        print(f'arXiv lists no papers for the author "{args.author}" (au:"{args.author}")')
        return 1
    print(f'{len(candidates)} papers on arXiv for "{args.author}", newest first:')
    for number, candidate in enumerate(candidates, start=1):
        paper = candidate.paper
        mark = {1: " ✓", 0: " ✕"}.get(candidate.label, "")  # type: ignore[arg-type]
        authors = ", ".join(paper.authors[:3]) + (", …" if len(paper.authors) > 3 else "")
        print(
            f"{number:>3}. {paper.id}  {paper.submitted_at:%Y-%m-%d}  {paper.title} ({authors})"
            + (" [stored" + mark + "]" if candidate.stored else "")
        )
    if args.yes:
        picked = list(range(len(candidates)))
    else:
        answer = args.pick
        if answer is None:
            if not sys.stdin.isatty():
                raise SystemExit(
                    "no terminal to ask which papers are yours: give --pick 1,3,5 (the numbers "
                    "above) or --yes (every paper listed)"
                )
            answer = input("Which are yours? Numbers such as 1,3,5 or 2-4, or all: ")
        try:
            picked = _picks(answer, len(candidates))
        except ValueError as err:
            raise SystemExit(f"nothing labelled: {err}") from None
    if not picked:
        print("nothing labelled: no paper picked")
        return 0
    chosen = [candidates[i].paper for i in picked]
    try:
        with session_scope(sessions) as session:
            report = import_references(
                session,
                chosen_papers(f"papers of {args.author}", chosen),
                client=client,
                known={paper.id: paper for paper in chosen},
            )
    except FetchError as err:  # pragma: no cover - the papers are known: nothing is fetched
        raise SystemExit(f"nothing labelled: {err}") from None
    print("\n".join(report.lines()))
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.db import session_scope
    from app.serving.registry import (
        ModelVersionError,
        activate_model,
        list_models,
        rollback_model,
        version_threshold,
    )

    sessions = _database(settings).sessions
    try:
        with session_scope(sessions) as session:
            if args.action == "activate":
                activate_model(
                    session, version_id=args.version, verify=True, device=settings.device
                )
            elif args.action == "rollback":
                rollback_model(session, verify=True, device=settings.device)
            versions = list_models(session)
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
    from app.jobs.retrain import retrain
    from app.jobs.scheduler import CLI_RETRAIN, PROBE_GRACE_SECONDS, DailyJob, JobBusy
    from app.serving.holder import ModelHolder
    from training.config import ConfigError
    from training.inference.layout import DataError

    sessions = _database(settings).sessions
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo import prepare_demo

    demo = settings.model_copy(
        update={
            "data_dir": args.data_dir.absolute(),
            "database_url": "",
            "model_dir": None,
            "scheduler_enabled": False,
        }
    )
    report = prepare_demo(demo)
    print(
        f"demo ready in {report.seconds:.0f}s: {report.labels} labels, model {report.model_name} "
        f"(test AP {report.test_average_precision:.3f}), days "
        + ", ".join(f"{r.day} ({r.fetched} papers)" for r in report.days)
    )
    if args.no_serve:
        return 0
    print(
        f"open http://{args.host or demo.host}:{args.port or demo.port}/?date={report.days[-1].day}"
    )
    return cmd_serve(args, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arxiv-reco",
        description="Daily arXiv recommendations. Settings come from "
        f"{ENV_PREFIX}* environment variables or a .env file.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and the daily scheduler")
    serve.add_argument("--host", help="bind address (default: settings)")
    serve.add_argument("--port", type=_port, help="port (default: settings)")
    serve.set_defaults(func=cmd_serve)
    ingest = sub.add_parser(
        "ingest", help="fetch, store and score a day (or a range); no --date: the last N days"
    )
    ingest.add_argument("--date", type=_date, help="first UTC day, YYYY-MM-DD")
    ingest.add_argument("--to", type=_date, help="last UTC day (inclusive), YYYY-MM-DD")
    ingest.set_defaults(func=cmd_ingest)
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
    labels.set_defaults(func=cmd_labels)
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
        type=_seed_limit,
        default=SEED_LIMIT,
        help=f"newest papers listed (default and most: {SEED_LIMIT})",
    )
    seed.set_defaults(func=cmd_seed)
    models = sub.add_parser("models", help="list, activate or roll back model versions")
    models_sub = models.add_subparsers(dest="action", required=True)
    models_sub.add_parser("list", help="every registered model version (* = active)")
    models_activate = models_sub.add_parser("activate", help="serve a model version")
    models_activate.add_argument("version", type=int)
    models_sub.add_parser("rollback", help="serve the previously active version again")
    models.set_defaults(func=cmd_models)
    retrain = sub.add_parser(
        "retrain", help="train on all stored labels; activate only if not worse than the active"
    )
    retrain.add_argument("--method", choices=["finetune", "tfidf", "embed"])
    retrain.add_argument("--tolerance", type=float, help="accepted loss of test AP (default 0)")
    retrain.add_argument("--force", action="store_true", help="activate whatever the result")
    retrain.set_defaults(func=cmd_retrain)
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
    demo.add_argument("--port", type=_port, help="port (default: settings)")
    demo.add_argument("--no-serve", action="store_true", help="prepare only")
    demo.set_defaults(func=cmd_demo)
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
        type=_count,
        help="keep this many newest backups there (default: ARXIV_RECO_BACKUP_KEEP; 0: all)",
    )
    backup.set_defaults(func=cmd_backup)
    digest = sub.add_parser(
        "digest",
        help="send the digest email of a day now (the service sends the newest day's after each "
        "daily run when ARXIV_RECO_SMTP_HOST is set)",
    )
    digest.add_argument(
        "--date", type=_date, help="the day, YYYY-MM-DD (default: the newest day not yet sent)"
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
    digest.set_defaults(func=cmd_digest)
    token = sub.add_parser(
        "token",
        help="print the API token kept in the data directory (made if absent), which writes "
        "need when the service listens beyond this machine",
    )
    token.set_defaults(func=cmd_token)
    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)
    sub.add_parser("train", help="train a model (see `arxiv-reco train --help`)", add_help=False)
    sub.add_parser("evaluate", help="evaluate a model on a labelled CSV", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("train", "evaluate"):
        settings = _load_settings()
        _setup_logging(settings)
        if argv[0] == "train":
            from app.cli.train import train_command

            return train_command(argv[1:], settings)
        from training.cli import evaluate_main

        return evaluate_main(argv[1:])
    args = build_parser().parse_args(argv)
    settings = _load_settings()
    _setup_logging(settings)
    from app.core.access import TokenFileError
    from app.core.db import DatabaseMissing

    try:
        return int(args.func(args, settings))
    except (DatabaseMissing, TokenFileError) as err:
        sys.exit(f"refused: {err}")


if __name__ == "__main__":
    sys.exit(main())
