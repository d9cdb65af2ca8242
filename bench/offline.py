"""What one day costs when arXiv cannot be reached: `ingest_day` against a name that does not
resolve, with the default settings (retries, backoff), on a temporary database.

    .venv/bin/python -m bench.offline [--url https://export.arxiv.invalid/api/query]

Prints the seconds the day took and the error recorded on its run. To compare with an older
commit, run the same module from a worktree of it (see bench/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

from app.core.config import Settings
from app.core.db import Database
from app.jobs.ingest import ingest_day

UNRESOLVABLE = "https://export.arxiv.invalid/api/query"  # .invalid never resolves (RFC 2606)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.offline", description=__doc__)
    parser.add_argument("--url", default=UNRESOLVABLE, help="an arXiv API URL that fails")
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # the run records the error; print it once
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), arxiv_api_url=args.url, _env_file=None)
        with Database(settings.resolved_database_url) as database:
            started = time.monotonic()
            report = ingest_day(database.sessions, dt.date(2025, 3, 19), settings)
            seconds = time.monotonic() - started
    print(f"{seconds:.1f} s, status {report.status}, error: {report.error}")


if __name__ == "__main__":
    main()
