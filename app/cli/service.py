"""``serve``, ``demo``, ``token``, ``migrate`` and ``backup``: running and keeping the service."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from app.cli.common import open_database
from app.core.access import is_loopback, stored_token
from app.core.config import ENV_PREFIX, Settings
from app.core.db import check_not_lost, sqlite_file
from app.demo import prepare_demo
from app.jobs.backup import BackupError, take_backup
from app.main import create_app


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:

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
    try:
        backup = take_backup(
            settings, open_database(settings).sessions, directory=args.output, keep=args.keep
        )
    except BackupError as err:
        raise SystemExit(f"no backup: {err}") from None
    print(f"wrote {backup.database} and {backup.labels}")
    if backup.removed:
        print(f"removed {len(backup.removed)} older backup files")
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
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
    open_database(settings).dispose()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
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
