"""What every command shares: settings, logging, the database, argument types."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.core.config import ENV_PREFIX, Settings
from app.core.private_files import private_directory
from app.label_import import SEED_LIMIT

if TYPE_CHECKING:
    from app.core.db import Database


def load_settings() -> Settings:
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


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic's INFO lines ("Context impl SQLiteImpl", its plugins) would open every command;
    # the migrations log a line of their own per revision applied (migrations/env.py).
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


def open_database(settings: Settings) -> Database:
    """The command's one database, brought up to date, in a data directory for its owner
    only."""
    # Here, not above: train, evaluate and --help answer without the database layer.
    from app.core.db import Database

    private_directory(settings.data_dir, close_existing=True)
    return Database(settings.resolved_database_url)


def day_arg(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def port_arg(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {port}")
    return port


def count_arg(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {count}")
    return count


def seed_limit_arg(value: str) -> int:
    count = count_arg(value)
    if not 1 <= count <= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {SEED_LIMIT}, got {count}")
    return count


MAX_WORKERS = 64


def workers_arg(value: str) -> int:
    count = count_arg(value)
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {count}")
    return count
