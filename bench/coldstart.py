"""Cold start: what a new reader gets from a few interesting papers and nothing else.

    .venv/bin/python -m bench.coldstart --data CSV --from DATE --positives 1 3 5 10 20 50 \\
        --seeds 5 [--negatives 0 | M per N] [--measured-min P N] [--json FILE] [--listings DIR]

For each N and seed: every paper of the CSV listed before ``--from`` is stored as ingestion
stores it (title, abstract, authors, comment and categories from the real listing files); N of
its interesting papers, drawn at random, are labelled ✓ through the service (``set_label``), and
``--negatives`` M uninteresting ones ✕; nothing else is labelled. The service's own retrain
(``app.jobs.retrain.retrain``: the early model while the labels cannot be split) makes a model, and
the served predictor scores every paper listed from ``--from`` on. Reported: average precision
over the period, the mean per-day precision@10, and what the shipped threshold recommends a day
and how precisely. In the same run, the anchor: arxiv-sanity-lite's recipe, TF-IDF (title and
abstract, 1-2-grams) and LinearSVC(C=0.1, class_weight="balanced"), N positives against every
other stored paper.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import average_precision_score
from sklearn.svm import LinearSVC

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.demo.standin import listing_files, read_listing
from app.jobs.retrain import retrain
from app.store.labels import set_label
from app.store.schema import Paper
from bench._shared import listing_paper
from training import regime
from training.inference.layout import AUTHOR_JOINER, load_labelled_csv, paper_inputs
from training.inference.predictor import load_predictor, score_papers
from training.train import library_versions

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/arxiv_interest_2025spring.csv"
DEFAULT_LISTINGS = ROOT.parent / "shared/data/listings"
DEFAULT_LAST_DAYS = 16  # as bench.prequential: without --from, the CSV's last 16 listing days
TOP_K = 10
SOURCE = "coldstart"

logger = logging.getLogger("bench.coldstart")


def with_listing_metadata(frame: pd.DataFrame, listings: Path) -> tuple[pd.DataFrame, dict]:
    """The CSV's rows with the authors and comment of their real listing entry, and the
    entries themselves (the first listing of each paper)."""
    entries: dict[str, dict[str, Any]] = {}
    for _, path in sorted(listing_files(listings).items()):
        for row in read_listing(path):
            entries.setdefault(row["id"], row)
    missing = [pid for pid in frame["paper_id"] if pid not in entries]
    if missing:
        raise SystemExit(
            f"{len(missing)} papers of the CSV are in no listing file of {listings}, e.g. "
            f"{missing[:3]}: the cold start stores papers as ingestion would, from the listings"
        )
    frame = frame.copy()
    frame["authors"] = [AUTHOR_JOINER.join(entries[p]["authors"]) for p in frame["paper_id"]]
    frame["comment"] = [entries[p].get("comment") or "" for p in frame["paper_id"]]
    return frame, entries


def precision_at_k_per_day(period: pd.DataFrame, scores: np.ndarray, k: int = TOP_K) -> float:
    ranked = period.assign(score=scores).sort_values("score", ascending=False, kind="stable")
    per_day = ranked.groupby(ranked["submission_date"].dt.date)["interest"]
    return float(np.mean([group.head(k).mean() for _, group in per_day]))


def figures(period: pd.DataFrame, scores: np.ndarray, threshold: float | None) -> dict[str, Any]:
    labels = period["interest"].to_numpy()
    out: dict[str, Any] = {
        "average_precision": round(float(average_precision_score(labels, scores)), 6),
        "precision_at_10": round(precision_at_k_per_day(period, scores), 6),
    }
    if threshold is not None:
        picked = scores >= threshold
        days = period["submission_date"].dt.date.nunique()
        out["recommended_per_day"] = round(float(picked.sum()) / days, 2)
        out["precision_at_threshold"] = (
            round(float(labels[picked].mean()), 6) if picked.any() else None
        )
        out["recall_at_threshold"] = round(float(labels[picked].sum() / labels.sum()), 6)
    return out


def lite_anchor(stored: pd.DataFrame, positives: list[str], period: pd.DataFrame) -> np.ndarray:
    """arxiv-sanity-lite: the tagged papers against every other stored paper."""
    text = stored["title"].fillna("") + " " + stored["abstract"]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    features = vectorizer.fit_transform(text)
    y = stored["paper_id"].isin(positives).to_numpy().astype(int)
    svm = LinearSVC(C=0.1, class_weight="balanced").fit(features, y)
    later = period["title"].fillna("") + " " + period["abstract"]
    return np.asarray(svm.decision_function(vectorizer.transform(later)))


def one_run(
    *,
    stored: pd.DataFrame,
    entries: dict[str, dict[str, Any]],
    period: pd.DataFrame,
    positives: int,
    negatives: int,
    seed: int,
    work_dir: Path,
    settings_overrides: dict[str, Any],
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    pos_pool = stored.loc[stored["interest"] == 1, "paper_id"].to_numpy()
    neg_pool = stored.loc[stored["interest"] == 0, "paper_id"].to_numpy()
    chosen_pos = sorted(rng.choice(pos_pool, positives, replace=False).tolist())
    chosen_neg = (
        sorted(rng.choice(neg_pool, negatives, replace=False).tolist()) if negatives else []
    )
    with tempfile.TemporaryDirectory(prefix="coldstart-", dir=work_dir) as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            device="cpu",
            scheduler_enabled=False,
            job_process=False,
            _env_file=None,
            **settings_overrides,
        )
        database = Database(settings.resolved_database_url)
        rows = [
            listing_paper(entries[pid], pid, day.date())
            for pid, day in zip(stored["paper_id"], stored["submission_date"], strict=True)
        ]
        with session_scope(database.sessions) as session:
            session.execute(Paper.__table__.insert(), rows)
        with session_scope(database.sessions) as session:
            for pid in chosen_pos:
                set_label(session, paper_id=pid, interest=1, source=SOURCE)
            for pid in chosen_neg:
                set_label(session, paper_id=pid, interest=0, source=SOURCE)
        started = time.perf_counter()
        outcome = retrain(database.sessions, settings, trigger="bench")
        seconds = time.perf_counter() - started
        predictor = load_predictor(outcome_path(database, outcome.version_id), device="cpu")
        scores = score_papers(predictor, paper_inputs(period))
        database.engine.dispose()
    ours = figures(period, np.asarray(scores), predictor.meta.threshold)
    anchor = figures(period, lite_anchor(stored, chosen_pos, period), None)
    return {
        "positives": positives,
        "negatives": negatives,
        "seed": seed,
        "regime": predictor.meta.info.get("regime", "measured"),
        "retrain_seconds": round(seconds, 2),
        "threshold": round(float(predictor.meta.threshold), 6),
        **ours,
        "anchor_svm_average_precision": anchor["average_precision"],
        "anchor_svm_precision_at_10": anchor["precision_at_10"],
    }


def outcome_path(database: Database, version_id: int) -> Path:
    from app.store.schema import ModelVersion

    with database.sessions() as session:
        return Path(session.get_one(ModelVersion, version_id).path)


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    keys = sorted({(r["positives"], r["negatives"]) for r in runs})
    for positives, negatives in keys:
        group = [r for r in runs if (r["positives"], r["negatives"]) == (positives, negatives)]

        def mean(name: str, group: list[dict[str, Any]] = group) -> float | None:
            values = [r[name] for r in group if r.get(name) is not None]
            return round(statistics.fmean(values), 4) if values else None

        ours, anchor = mean("average_precision"), mean("anchor_svm_average_precision")
        summary.append(
            {
                "positives": positives,
                "negatives": negatives,
                "runs": len(group),
                "average_precision_mean": ours,
                "precision_at_10_mean": mean("precision_at_10"),
                "anchor_svm_average_precision_mean": anchor,
                "anchor_svm_precision_at_10_mean": mean("anchor_svm_precision_at_10"),
                "ratio_to_anchor": round(ours / anchor, 3) if ours and anchor else None,
                "recommended_per_day_mean": mean("recommended_per_day"),
                "precision_at_threshold_mean": mean("precision_at_threshold"),
                "retrain_seconds_mean": mean("retrain_seconds"),
            }
        )
    return summary


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-04-18, got {text!r}") from err


def _settings_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a service setting), got {text!r}")
    return name, value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.coldstart",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled CSV")
    parser.add_argument("--listings", type=Path, default=DEFAULT_LISTINGS)
    parser.add_argument(
        "--from",
        dest="first",
        type=_date,
        help=f"first scored day (default: the CSV's last {DEFAULT_LAST_DAYS} listing days)",
    )
    parser.add_argument("--positives", type=int, nargs="+", default=[1, 3, 5, 10, 20, 50])
    parser.add_argument(
        "--negatives", type=int, nargs="+", default=[0], help="random ✕ labels besides (per N)"
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--set",
        dest="overrides",
        type=_settings_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a service setting for every run, e.g. early_daily_picks=5",
    )
    parser.add_argument(
        "--measured-min",
        type=int,
        nargs=2,
        metavar=("POSITIVES", "NEGATIVES"),
        help="the labels a measured model needs instead of the service's (training.regime): "
        "'6 3' measures whenever the date split can, '1000000 0' keeps the early model",
    )
    parser.add_argument("--json", type=Path, help="write the settings and figures here")
    parser.add_argument("--work-dir", type=Path, help="where the runs' databases go (temporary)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    frame = load_labelled_csv(args.data)
    frame, entries = with_listing_metadata(frame, args.listings)
    days = sorted(frame["submission_date"].dt.date.unique())
    first = args.first or days[-DEFAULT_LAST_DAYS]
    stored = frame[frame["submission_date"].dt.date < first].reset_index(drop=True)
    period = frame[frame["submission_date"].dt.date >= first].reset_index(drop=True)
    if stored.empty or period.empty:
        raise SystemExit(
            f"--from {first} leaves no stored or no scored day ({days[0]}..{days[-1]})"
        )
    most = int(stored["interest"].sum())
    too_many = [n for n in args.positives if not 1 <= n <= most]
    if too_many:
        raise SystemExit(f"--positives {too_many}: the stored days hold {most} interesting papers")
    overrides = dict(args.overrides)
    if args.measured_min:
        # A benchmark's lever, not a service setting: where the early regime ends.
        regime.MEASURED_MIN_POSITIVES, regime.MEASURED_MIN_NEGATIVES = args.measured_min
    work_dir = args.work_dir or Path(tempfile.gettempdir())
    work_dir.mkdir(parents=True, exist_ok=True)
    logger.info(
        "%d stored papers (%d interesting) before %s; %d scored papers on %d days",
        len(stored),
        most,
        first,
        len(period),
        period["submission_date"].dt.date.nunique(),
    )
    if len(args.negatives) not in (1, len(args.positives)):
        raise SystemExit(
            f"--negatives: give one count, or one per --positives ({len(args.positives)})"
        )
    negatives_of = dict(
        zip(args.positives, args.negatives * len(args.positives), strict=False)
        if len(args.negatives) == 1
        else zip(args.positives, args.negatives, strict=True)
    )
    runs = []
    for positives in args.positives:
        for seed in range(args.seeds):
            run = one_run(
                stored=stored,
                entries=entries,
                period=period,
                positives=positives,
                negatives=negatives_of[positives],
                seed=seed,
                work_dir=work_dir,
                settings_overrides=overrides,
            )
            logger.info(
                "N=%d seed %d: AP %.3f (lite %.3f), P@10 %.3f, %s a day at the threshold, %.1f s",
                positives,
                seed,
                run["average_precision"],
                run["anchor_svm_average_precision"],
                run["precision_at_10"],
                run.get("recommended_per_day"),
                run["retrain_seconds"],
            )
            runs.append(run)
    summary = summarise(runs)
    header = "| ✓ | ✕ | AP | P@10 | lite AP | lite P@10 | ratio | picks/day | precision | s |"
    print(header)
    print("|" + " --- |" * 10)
    for row in summary:
        print(
            f"| {row['positives']} | {row['negatives']} | {row['average_precision_mean']:.3f} | "
            f"{row['precision_at_10_mean']:.3f} | "
            f"{row['anchor_svm_average_precision_mean']:.3f} | "
            f"{row['anchor_svm_precision_at_10_mean']:.3f} | {row['ratio_to_anchor']} | "
            f"{row['recommended_per_day_mean']} | {row['precision_at_threshold_mean']} | "
            f"{row['retrain_seconds_mean']} |"
        )
    if args.json:
        report = {
            "data": str(args.data),
            "from": first.isoformat(),
            "stored_papers": len(stored),
            "scored_papers": len(period),
            "seeds": args.seeds,
            "settings": overrides,
            "measured_min": [regime.MEASURED_MIN_POSITIVES, regime.MEASURED_MIN_NEGATIVES],
            "versions": library_versions(),
            "summary": summary,
            "runs": runs,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
