"""Training without a GPU: wall time and test AP of each method on the 4,211-row benchmark, and
how long the service's retrain takes after 50 new labels.

    .venv/bin/python -m bench.training [--methods embed,finetune]

1. Metadata (a bench-only step). The benchmark CSV has no authors or comment, so they are looked
   up by id in the real listings the labels were drawn from (``../shared/data/listings``). The CSV
   lost the trailing zeros of some ids (2503.2431 is 2503.24310), so ``id``, ``id0`` and ``id00``
   are tried. The CSV with ``authors`` (``;``-separated) and ``comment`` columns added is written
   to ``bench/out/arxiv_interest_2025spring_meta.csv``; its rows are otherwise the benchmark's.
2. Each method is trained with ``training.train()``, as ``arxiv-reco train`` does, on the shared
   protocol (by date: 60% train, 20% validation for C and the threshold, 20% test, only scored).
   The tfidf rows differ only in the metadata they read; ``--methods`` adds embed and finetune
   (slow: minutes to an hour on two cores) with the MiniLM encoder of ``bench/quality.py``.
3. A fresh service database gets every label but the 50 newest (with authors and comment, as
   ``arxiv-reco labels import`` stores them) and the service's retrain (``app.jobs.retrain``) runs
   with the tfidf method; then the 50 newest labels are imported and the second retrain, the one
   a user waits for, is timed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.jobs.retrain import retrain
from app.store.labels import import_labels_csv
from training.config import TrainConfig
from training.inference.layout import load_labelled_csv
from training.train import TrainResult, train

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
NEW_LABELS = 50
RETRAIN_GOAL_S = 30.0


@dataclass
class Run:
    method: str
    fields: str
    config: dict[str, Any]


TFIDF_RUNS = [
    Run("tfidf", "title + abstract", {"meta_fields": []}),
    Run("tfidf", "+ authors, comment (default)", {}),
    Run(
        "tfidf",
        "+ authors, categories, comment",
        {"meta_fields": ["authors", "categories", "comment"]},
    ),
]


def read_listings(directory: Path) -> dict[str, dict[str, Any]]:
    papers: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                papers[record["id"]] = record
    return papers


def enrich(csv: Path, listings: Path, output: Path) -> Path:
    """The benchmark CSV with authors and comment from the listings, matched by id."""
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    papers = read_listings(listings)
    found = [
        next((papers[i] for i in (pid, pid + "0", pid + "00") if i in papers), None)
        for pid in frame["paper_id"]
    ]
    missing = [pid for pid, paper in zip(frame["paper_id"], found, strict=True) if paper is None]
    frame["authors"] = ["; ".join(p["authors"]) if p else "" for p in found]
    frame["comment"] = [" ".join((p.get("comment") or "").split()) if p else "" for p in found]
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    print(
        f"metadata: {len(frame) - len(missing)} of {len(frame)} rows found in "
        f"{len(papers)} listed papers ({len(missing)} missing{': ' if missing else ''}"
        f"{', '.join(missing[:5])}); {int((frame['comment'] != '').sum())} have a comment; "
        f"wrote {output.relative_to(ROOT)}"
    )
    return output


def encoder_runs(methods: list[str]) -> list[Run]:
    if not methods:
        return []
    from bench._shared import minilm_dir

    encoder = {"base_model": str(minilm_dir()), "eval_batch_size": 32, "device": "cpu"}
    runs = {
        "embed": Run("embed", "title + abstract, 256 tokens", {**encoder, "max_length": 256}),
        "finetune": Run(
            "finetune",
            "title + abstract, 128 tokens, 2 epochs",
            {
                **encoder,
                "max_length": 128,
                "epochs": 2.0,
                "learning_rate": 5e-5,
                "batch_size": 16,
            },
        ),
    }
    unknown = sorted(set(methods) - set(runs))
    if unknown:
        raise SystemExit(f"--methods: unknown {unknown}; expected embed and/or finetune")
    return [runs[m] for m in methods]


def train_run(run: Run, frame: pd.DataFrame, source: str, index: int) -> TrainResult:
    config = TrainConfig(
        output=str(OUT / "models" / f"training-{index}-{run.method}"),
        data=source,
        method=run.method,
        overwrite=True,
        no_register=True,
        progress=False,
        **run.config,
    )
    return train(config, frame=frame, source=source)


def methods_table(results: list[tuple[Run, TrainResult]]) -> str:
    baseline = results[0][1].metrics["test"]["average_precision"]
    lines = [
        "| method | fields | fit s | total s | test AP | ROC AUC | F1 @ val threshold "
        "| Δ AP vs tfidf text |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run, result in results:
        test = result.metrics["test"]
        lines.append(
            f"| {run.method} | {run.fields} | {result.fit_seconds:.1f} | "
            f"{result.total_seconds:.1f} | {test['average_precision']:.3f} | "
            f"{test['roc_auc']:.3f} | {test['f1']:.3f} | "
            f"{test['average_precision'] - baseline:+.3f} |"
        )
    return "\n".join(lines)


def split_newest(csv: Path, directory: Path, newest: int) -> tuple[Path, Path]:
    """The labels but the ``newest`` latest (by submission date, stable) and those latest."""
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    dates = pd.to_datetime(raw["submission_date"], utc=True, format="mixed")
    ordered = raw.iloc[dates.argsort(kind="stable")]
    older, newer = directory / "older.csv", directory / "newest.csv"
    ordered.iloc[:-newest].to_csv(older, index=False)
    ordered.iloc[-newest:].to_csv(newer, index=False)
    return older, newer


def time_retrain(csv: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        older, newer = split_newest(csv, Path(tmp), NEW_LABELS)
        settings = Settings(
            data_dir=Path(tmp) / "data", device="cpu", scheduler_enabled=False, _env_file=None
        )
        sessions = Database(settings.resolved_database_url).sessions
        print("\n| step | labels | wall s | test AP | active AP | activated |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for step, path in (("first retrain", older), (f"after {NEW_LABELS} new labels", newer)):
            with session_scope(sessions) as session:
                import_labels_csv(session, path)
            started = time.perf_counter()
            outcome = retrain(sessions, settings, method="tfidf")
            wall = time.perf_counter() - started
            active = outcome.active_average_precision
            print(
                f"| {step} | {outcome.labels} | {wall:.1f} | "
                f"{outcome.new_average_precision:.3f} | "
                f"{'-' if active is None else format(active, '.3f')} | {outcome.activated} |",
                flush=True,
            )
        verdict = "met" if wall < RETRAIN_GOAL_S else "NOT met"
        print(
            f"\nretrain after {NEW_LABELS} new labels: {wall:.1f} s "
            f"(goal < {RETRAIN_GOAL_S:.0f} s: {verdict}); {outcome.reason}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--csv", type=Path, default=SHARED / "arxiv_interest_2025spring.csv")
    parser.add_argument("--listings", type=Path, default=SHARED / "listings")
    parser.add_argument(
        "--methods", default="", help="also train these, comma-separated: embed, finetune (slow)"
    )
    parser.add_argument("--skip-retrain", action="store_true", help="only the methods table")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    enriched = enrich(args.csv, args.listings, OUT / f"{args.csv.stem}_meta.csv")
    frame = load_labelled_csv(enriched)
    runs = TFIDF_RUNS + encoder_runs([m for m in args.methods.split(",") if m])
    results = []
    for index, run in enumerate(runs):
        results.append((run, train_run(run, frame, enriched.name, index)))
        print(f"trained {run.method} ({run.fields})", flush=True)
    test = results[0][1].meta.info["splits"]["test"]
    print(
        f"\nTest split: {test['rows']} papers, {test['positives']} positive, {test['days']} days; "
        "threshold chosen on validation.\n"
    )
    print(methods_table(results))
    if not args.skip_retrain:
        time_retrain(enriched)


if __name__ == "__main__":
    main()
