"""``serve``, ``worker``, ``demo``, ``token``, ``migrate`` and ``backup``: running and keeping the
service."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

import uvicorn

from app.cli.common import open_database
from app.core.access import is_loopback, stored_token
from app.core.config import ENV_PREFIX, Settings
from app.core.db import check_not_lost, sqlite_file
from app.core.priority import lower_thread_priority
from app.demo import prepare_demo
from app.jobs.backup import BackupError, take_backup
from app.main import create_app

logger = logging.getLogger(__name__)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:

    database_file = sqlite_file(settings.resolved_database_url)
    if database_file is not None:
        check_not_lost(database_file)  # before uvicorn, which would bury it in a traceback
    # The bind address decides the access rules (app.core.access), so the app sees the real one.
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    workers = getattr(args, "workers", None)
    if workers is not None:
        return _serve_workers(settings, workers)
    uvicorn.run(
        create_app(settings, settle_heap=True, background_loads=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    return 0


def _serve_workers(settings: Settings, workers: int) -> int:
    """N web processes on one port (uvicorn's workers, each its own app from the environment),
    none running the scheduler: the jobs are `arxiv-reco worker`'s."""
    if sqlite_file(settings.resolved_database_url) is not None and workers > 1:
        print(
            f"note: {workers} web processes share a SQLite database on this host; for several "
            "hosts, use PostgreSQL (README, 'A lab server')",
            file=sys.stderr,
        )
    open_database(settings).dispose()  # migrated once, before the web processes start
    # The workers read their settings from the environment: the bind address (the access rules
    # depend on it) and no scheduler.
    os.environ[f"{ENV_PREFIX}HOST"] = settings.host
    os.environ[f"{ENV_PREFIX}PORT"] = str(settings.port)
    os.environ[f"{ENV_PREFIX}SCHEDULER_ENABLED"] = "false"
    uvicorn.run(
        "app.main:web_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """The jobs without the web, until SIGTERM or SIGINT: the daily job on its schedule (with
    the nightly retrains of every topic, backups and the digest), and the re-scoring of a newly
    activated model. The job's one lock keeps two workers from running one job twice. The first
    signal asks a running ingestion to stop and ends when the job does; a second one ends at
    once."""
    from app.main import start_services, stop_services
    from app.store.topics import every_topic

    stop = threading.Event()

    def stopping(signum: int, _frame: object) -> None:
        stop.set()
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopping)
    # Everything a worker does is background work beside the web processes: its threads (the
    # scheduler's, those loading the models it re-scores with) inherit this, and the jobs'
    # children run at least as nice (app.jobs.child).
    lower_thread_priority(settings.background_nice)
    services = start_services(settings.model_copy(update={"scheduler_enabled": True}))
    print(f"worker {os.getpid()} running the jobs ({settings.schedule_cron} UTC)", flush=True)
    try:
        while not stop.wait(settings.worker_poll_seconds):
            # A model activated elsewhere (a web process's retrain): loading it here schedules
            # its re-scoring. A database that is away for a moment is tried again next time.
            try:
                with services.sessions() as session:
                    topic_ids = [topic.id for topic in every_topic(session)]
                for topic_id in topic_ids:
                    services.holders[topic_id].get()
            except Exception:
                logger.exception("the worker could not look for newly activated models")
    finally:
        if services.job.cancel():
            print("asked the running ingestion to stop; waiting for the job", flush=True)
        stop_services(services)
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


def cmd_migrate_to(args: argparse.Namespace, settings: Settings) -> int:
    """Copy this install's database into the empty database at ``args.url`` (migrated to the
    newest schema first), then say what to set to use it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from app.core.db import Database
    from app.store.copy import CopyRefused, CountMismatch, copy_database

    try:
        shown = make_url(args.url).render_as_string(hide_password=True)
    except ArgumentError:
        raise SystemExit(f"migrate-to: {args.url!r} is not a database URL") from None
    from app.jobs.lock import job_lock
    from app.store.copy import check_foreign

    source = open_database(settings)
    lock = job_lock(settings.data_dir, source.sessions)
    if not lock.take(what="a move of the database (migrate-to)"):
        source.dispose()
        raise SystemExit(
            f"migrate-to: {lock.holder()} is running; stop the service (and its jobs) first"
        )
    try:
        try:
            target = Database(args.url, migrate=False)
            check_foreign(target.engine)  # before anything is created there
            target.migrate()
        except CopyRefused as err:
            raise SystemExit(f"migrate-to: {err}") from None
        except (SQLAlchemyError, ImportError, OSError) as err:
            raise SystemExit(f"migrate-to: cannot open {shown}: {err}") from None
        try:
            copied = copy_database(
                source.engine, target.engine, progress=lambda line: print(line, flush=True)
            )
        except (CopyRefused, CountMismatch) as err:
            raise SystemExit(f"migrate-to: {err}") from None
        except SQLAlchemyError as err:  # a value the target refuses: nothing was kept
            raise SystemExit(f"migrate-to: the copy failed, nothing was kept: {err}") from None
        finally:
            target.dispose()
    finally:
        lock.give()
        source.dispose()
    print(
        f"copied {sum(c.target_rows for c in copied):,} rows of {len(copied)} tables into "
        f"{shown}, every count equal. Use it: {ENV_PREFIX}DATABASE_URL=<that URL>. Model "
        f"versions keep their directories' paths ({settings.resolved_model_dir}): every host "
        "that serves them must reach those paths."
    )
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
