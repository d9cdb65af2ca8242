"""``arxiv-reco``: serve, ingest, migrate, train, evaluate."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from app.core.config import ENV_PREFIX, Settings

logger = logging.getLogger("app.cli")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        lines = [
            f"  {ENV_PREFIX}{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            f" (got {e.get('input')!r})"
            for e in err.errors()
        ]
        sys.exit("invalid settings:\n" + "\n".join(lines))


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level.lower(),
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.db import migrate

    migrate(settings.resolved_database_url)
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from app.core.db import make_engine, make_session_factory, migrate
    from app.ingest.service import ingest_range
    from app.ml.serving import ModelHolder
    from app.scheduler import DailyJob

    migrate(settings.resolved_database_url)
    sessions = make_session_factory(make_engine(settings.resolved_database_url))
    holder = ModelHolder(sessions, device=settings.device, batch_size=settings.score_batch_size)
    if args.date is None:
        if args.to is not None:
            raise SystemExit("--to needs --date")
        reports = DailyJob(sessions, settings, holder).run(trigger="manual")
    else:
        last = args.to or args.date
        if last < args.date:
            raise SystemExit(f"--to {last} is before --date {args.date}")
        reports = ingest_range(sessions, args.date, last, settings, model=holder.get, progress=True)
    print(f"{'day':<10}  {'status':<7}  {'fetched':>7}  {'new':>5}  {'updated':>7}  {'scored':>6}")
    for r in reports:
        print(
            f"{r.day.isoformat():<10}  {r.status:<7}  {r.fetched:>7}  {r.new:>5}  "
            f"{r.updated:>7}  {r.scored:>6}" + (f"  {r.error}" if r.error else "")
        )
    return 1 if any(r.status != "success" for r in reports) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arxiv-reco",
        description="Daily arXiv recommendations. Settings come from "
        f"{ENV_PREFIX}* environment variables or a .env file.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and the daily scheduler")
    serve.add_argument("--host", help="bind address (default: settings)")
    serve.add_argument("--port", type=int, help="port (default: settings)")
    serve.set_defaults(func=cmd_serve)
    ingest = sub.add_parser(
        "ingest", help="fetch, store and score a day (or a range); no --date: the last N days"
    )
    ingest.add_argument("--date", type=_date, help="first UTC day, YYYY-MM-DD")
    ingest.add_argument("--to", type=_date, help="last UTC day (inclusive), YYYY-MM-DD")
    ingest.set_defaults(func=cmd_ingest)
    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)
    sub.add_parser("train", help="train a model (see `arxiv-reco train --help`)", add_help=False)
    sub.add_parser("evaluate", help="evaluate a model on a labelled CSV", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("train", "evaluate"):
        from training import cli as training_cli

        settings = _load_settings()
        _setup_logging(settings)
        entry = training_cli.train_main if argv[0] == "train" else training_cli.evaluate_main
        return entry(argv[1:])
    args = build_parser().parse_args(argv)
    settings = _load_settings()
    _setup_logging(settings)
    return int(args.func(args, settings))


if __name__ == "__main__":
    sys.exit(main())
