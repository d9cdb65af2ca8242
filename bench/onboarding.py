"""Onboarding: which papers to ask a new reader about, measured on the benchmark's labels.

    .venv/bin/python -m bench.onboarding [--data CSV] [--from DATE] [--rounds 6] \\
        [--pools 3] [--strategies shipped nearest nearest+mmr random] [--json FILE]

A random 80% of the CSV's papers listed before ``--from`` is stored as ingestion stores it (as
bench/coldstart.py does), a different 80% for each of ``--pools`` replicates, the same for every
strategy within one; the CSV's labels play the reader, who answers each asked paper with its
label, ten a round. After each round the service's own retrain (``app.jobs.retrain.retrain``:
the early model while the labels cannot be split) makes the model that the next round asks
with, and that model scores every paper listed from ``--from`` on. Reported each round: average
precision over that period (before any model: the period's share of ✓, what an unranked list
scores), the mean per-day precision@10 (none: the share too), the ✓ found so far, and how long
choosing a batch took; the mean over the replicates. The strategies differ from the second
round on (the first has no model: the shipped batch that covers the newest days, or random
papers for ``random``):

* ``shipped``: ``app.jobs.onboarding.next_batch`` as served: the papers nearest the threshold kept
  apart by maximal marginal relevance, and 3 of 10 exploring what no label resembles;
* ``nearest+mmr``: the same without exploring;
* ``nearest``: the ten nearest the threshold, nothing else (uncertainty sampling);
* ``random``: ten unlabelled stored papers drawn at random.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.jobs.onboarding import next_batch, retrain_on_answers, store_answers
from app.jobs.scheduler import DailyJob
from app.serving.holder import ModelHolder
from app.store.schema import Label, Paper, utcnow
from bench._shared import listing_paper
from bench.coldstart import (
    DEFAULT_DATA,
    DEFAULT_LAST_DAYS,
    DEFAULT_LISTINGS,
    ROOT,
    _date,
    figures,
    with_listing_metadata,
)
from training.inference.layout import load_labelled_csv, paper_inputs
from training.inference.predictor import score_papers

logger = logging.getLogger("bench.onboarding")

STRATEGIES: dict[str, dict[str, float] | None] = {
    "shipped": {},
    "nearest+mmr": {"explore_share": 0.0},
    "nearest": {"explore_share": 0.0, "mmr_lambda": 1.0},
    "random": None,
}
BATCH = 10


def run(
    strategy: str,
    *,
    stored: pd.DataFrame,
    entries: dict[str, dict[str, Any]],
    period: pd.DataFrame,
    rounds: int,
    seed: int,
    work_dir: Path,
) -> list[dict[str, Any]]:
    truth = dict(zip(stored["paper_id"], stored["interest"].astype(int), strict=True))
    options = STRATEGIES[strategy]
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="onboarding-", dir=work_dir) as tmp:
        settings = Settings(
            data_dir=Path(tmp), device="cpu", scheduler_enabled=False, _env_file=None
        )
        database = Database(settings.resolved_database_url)
        rows = [
            listing_paper(entries[pid], pid, day.date())
            for pid, day in zip(stored["paper_id"], stored["submission_date"], strict=True)
        ]
        with session_scope(database.sessions) as session:
            session.execute(Paper.__table__.insert(), rows)
        holder = ModelHolder(database.sessions, device="cpu", batch_size=16)
        job = DailyJob(database.sessions, settings, holder)
        found = 0
        for number in range(1, rounds + 1):
            started = time.perf_counter()
            with database.sessions() as session:
                loaded = holder.get()
                if options is None:
                    labelled = set(session.scalars(select(Label.paper_id)))
                    left = sorted(set(truth) - labelled)
                    asked = rng.choice(left, BATCH, replace=False).tolist()
                else:
                    asked = [p.paper_id for p in next_batch(session, loaded, **options)]
            choose_seconds = time.perf_counter() - started
            found += sum(truth[pid] for pid in asked)
            with session_scope(database.sessions) as session:
                changed = store_answers(
                    session, [(pid, truth[pid]) for pid in asked], now=utcnow()
                ).labelled
            report = retrain_on_answers(database.sessions, settings, changed=changed, job=job)
            loaded = holder.get()
            row: dict[str, Any] = {
                "strategy": strategy,
                "seed": seed,
                "round": number,
                "answers": number * BATCH,
                "found": found,
                "retrain": report.status,
                "choose_seconds": round(choose_seconds, 2),
            }
            if loaded is not None:
                scores = score_papers(loaded.predictor, paper_inputs(period))
                row.update(figures(period, np.asarray(scores), loaded.threshold))
                row["regime"] = loaded.regime
            else:  # no model: the papers come unranked
                share = round(float(period["interest"].mean()), 6)
                row.update(average_precision=share, precision_at_10=share, regime=None)
            logger.info("%s", row)
            out.append(row)
        database.engine.dispose()
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mean over seeds of each strategy's round."""
    table = []
    keys = sorted({(r["strategy"], r["round"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for strategy, number in keys:
        group = [r for r in rows if r["strategy"] == strategy and r["round"] == number]

        def mean(key: str, group: list[dict[str, Any]] = group) -> float | None:
            values = [r[key] for r in group if r.get(key) is not None]
            return round(statistics.fmean(values), 4) if values else None

        table.append(
            {
                "strategy": strategy,
                "round": number,
                "answers": group[0]["answers"],
                "runs": len(group),
                "found": mean("found"),
                "average_precision": mean("average_precision"),
                "precision_at_10": mean("precision_at_10"),
                "choose_seconds": mean("choose_seconds"),
            }
        )
    return table


def _figure(value: float | None) -> str:
    return f"{value:6.3f}" if value is not None else "     –"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--listings", type=Path, default=DEFAULT_LISTINGS)
    parser.add_argument("--from", dest="start", type=_date, default=None)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pools", type=int, default=3)
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), default=None)
    parser.add_argument("--json", type=Path, default=ROOT / "bench/out/onboarding.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    frame, entries = with_listing_metadata(load_labelled_csv(args.data), args.listings)
    days = sorted(frame["submission_date"].dt.date.unique())
    start = args.start or days[-DEFAULT_LAST_DAYS]
    stored = frame[frame["submission_date"].dt.date < start].reset_index(drop=True)
    period = frame[frame["submission_date"].dt.date >= start].reset_index(drop=True)
    logger.info(
        "stored %d papers (%d ✓) before %s; period %d papers (%d ✓)",
        len(stored),
        int(stored["interest"].sum()),
        start,
        len(period),
        int(period["interest"].sum()),
    )
    work_dir = ROOT / "bench/out"
    work_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for seed in range(args.pools):
        pool = stored.sample(frac=0.8, random_state=seed).sort_values(
            ["submission_date", "paper_id"], kind="stable"
        )
        for strategy in args.strategies or list(STRATEGIES):
            rows += run(
                strategy,
                stored=pool.reset_index(drop=True),
                entries=entries,
                period=period,
                rounds=args.rounds,
                seed=seed,
                work_dir=work_dir,
            )
    table = summarise(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": rows, "summary": table}, indent=1) + "\n")
    sys.stdout.write(
        "strategy      round answers found     AP    P@10  choose s\n"
        + "".join(
            f"{r['strategy']:12s} {r['round']:6d} {r['answers']:7d} {r['found']:5.1f} "
            f"{_figure(r['average_precision'])} {_figure(r['precision_at_10'])} "
            f"{r['choose_seconds']:8.2f}\n"
            for r in table
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
