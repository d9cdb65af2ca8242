"""Prequential replay: a labelled period day by day through the service's own code.

    .venv/bin/python -m bench.prequential --data CSV [--from DATE] [--to DATE] [--retrain-every N]
        [--method tfidf] [--threshold-strategy f1|per_day|precision|recall]
        [--threshold-target X] [--json FILE] [--no-fixed] [--work-dir DIR]

Each replayed day is what the reader would have lived: the labels before it are the reader's; the
service runs its nightly part (`app.jobs.scheduler.after_ingestion`: retrain when the labels
changed, gate, activate, re-score every stored day); the day's papers come in through `ingest_day`
from the local arXiv stand-in and are scored by the active model; the day's recommendations are read
with the service's rule; only then are the day's labels revealed, as the reader gives them on the
page. So every figure is measured on papers whose labels no model had seen when it scored them, with
the threshold the service shipped.

The same replay with a model trained once before the period and never retrained ("fixed") tells
what the nightly retrains are worth.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.demo.standin import ArxivStandIn, Catalog, Entry
from app.jobs.ingest import ingest_day
from app.jobs.rescore import after_ingestion
from app.jobs.retrain import RetrainOutcome, last_retrain
from app.serving.holder import LoadedModel, ModelHolder
from app.store.labels import import_labels_csv, set_label
from app.store.rules import current_score, is_recommended
from app.store.schema import Label, Paper, Score
from training.config import TrainConfig
from training.inference.layout import csv_frame, load_labelled_csv, split_authors, split_categories
from training.metrics import best_f1_threshold
from training.train import library_versions

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/arxiv_interest_2025spring.csv"
# Without --from, the replay covers this many of the CSV's last listing days.
DEFAULT_LAST_DAYS = 16
TOP_K = 10
# Entries of one day are published this many seconds apart, as in the real listings' replay.
ENTRY_SPACING_SECONDS = 17
REVEAL_SOURCE = "replay"
RUN_KINDS = ("nightly", "fixed")

logger = logging.getLogger("bench.prequential")


class ReplayError(RuntimeError):
    """The service did not do what a day of the replay needs; the message says what differed."""


@dataclasses.dataclass(frozen=True)
class ReplayConfig:
    data: Path
    first: dt.date
    last: dt.date
    retrain_every: int
    method: str
    threshold_strategy: str
    threshold_target: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "data": str(self.data),
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "retrain_every": self.retrain_every,
            "method": self.method,
            "threshold_strategy": self.threshold_strategy,
            "threshold_target": self.threshold_target,
            "seed": _train_default("seed"),
        }


@dataclasses.dataclass
class DayResult:
    day: dt.date
    paper_ids: list[str]
    interest: np.ndarray
    probability: np.ndarray
    recommended: np.ndarray
    model_version_id: int
    threshold: float
    ingest_score_seconds: float
    retrain: RetrainOutcome | None
    nightly_seconds: float | None  # the whole nightly part: retrain and re-scoring

    @property
    def positives(self) -> int:
        return int(self.interest.sum())

    @property
    def average_precision(self) -> float | None:
        return _average_precision(self.interest, self.probability)

    @property
    def precision_at_k(self) -> float | None:
        if not len(self.interest):
            return None
        # Ties go to the smaller id (paper_ids are sorted), so a run is repeatable.
        order = sorted(range(len(self.paper_ids)), key=lambda i: (-self.probability[i], i))
        top = order[:TOP_K]
        return float(self.interest[top].sum()) / len(top)

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "papers": len(self.paper_ids),
            "positives": self.positives,
            "average_precision": self.average_precision,
            "precision_at_10": self.precision_at_k,
            "recommended": int(self.recommended.sum()),
            "recommended_positives": int((self.recommended & (self.interest == 1)).sum()),
            "model_version_id": self.model_version_id,
            "threshold": self.threshold,
            "ingest_score_seconds": round(self.ingest_score_seconds, 3),
            "retrain": None if self.retrain is None else self.retrain.as_dict(),
            "nightly_seconds": None
            if self.nightly_seconds is None
            else round(self.nightly_seconds, 3),
        }


def _train_default(name: str) -> Any:
    """What ``app.jobs.retrain`` trains with when the settings say nothing (its TrainConfig)."""
    return next(f.default for f in dataclasses.fields(TrainConfig) if f.name == name)


def _average_precision(labels: np.ndarray, scores: np.ndarray) -> float | None:
    if not labels.sum():
        return None
    return float(average_precision_score(labels, scores))


# The data ----------------------------------------------------------------------------------


def replay_days(frame: pd.DataFrame, first: dt.date | None, last: dt.date | None) -> list[dt.date]:
    dates = sorted({stamp.date() for stamp in frame["submission_date"]})
    if first is None:
        first = dates[-DEFAULT_LAST_DAYS] if len(dates) > DEFAULT_LAST_DAYS else dates[1]
    days = [d for d in dates if d >= first and (last is None or d <= last)]
    if not days:
        raise ReplayError(
            f"no labelled day between --from {first} and --to {last or 'the end'}; the CSV has "
            f"{dates[0]} to {dates[-1]}"
        )
    if dates[0] >= days[0]:
        raise ReplayError(
            f"no labels before the first replayed day {days[0]}: a model needs labelled days "
            f"before the period (the CSV starts on {dates[0]})"
        )
    return days


def followed(frame: pd.DataFrame, categories: Sequence[str]) -> pd.Series:
    """Rows in a followed category: the only ones the service's ingestion can bring in."""
    wanted = set(categories)
    return frame["categories"].map(lambda text: bool(wanted.intersection(split_categories(text))))


def catalog_of(frame: pd.DataFrame, days: Sequence[dt.date]) -> Catalog:
    """The replayed days' rows as the arXiv stand-in's papers, first versions published that day."""
    catalog = Catalog()
    for day in days:
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        rows = frame[frame["submission_date"].dt.date == day]
        for index, row in enumerate(rows.itertuples(index=False)):
            stamp = midnight + dt.timedelta(seconds=ENTRY_SPACING_SECONDS * index)
            catalog.add(
                Entry(
                    id=row.paper_id,
                    version=1,
                    title=row.title,
                    summary=row.abstract,
                    authors=list(split_authors(row.authors)),
                    categories=split_categories(row.categories),
                    published=stamp,
                    updated=stamp,
                    comment=row.comment or None,
                )
            )
    return catalog


# The service -------------------------------------------------------------------------------


def make_settings(data_dir: Path, api_url: str, config: ReplayConfig) -> Settings:
    overrides: dict[str, Any] = {}
    if config.method != "tfidf":
        from bench._shared import minilm_dir  # ModernBERT-base cannot be fetched here

        overrides["retrain_base_model"] = str(minilm_dir())
    return Settings(
        data_dir=data_dir,
        arxiv_api_url=api_url,
        request_delay_seconds=0,
        # A local stand-in without faults: a failed request is a bug to see, not to retry.
        retries=0,
        device="cpu",
        scheduler_enabled=False,
        job_process=False,
        nightly_retrain=True,
        retrain_method=config.method,
        retrain_threshold_strategy=config.threshold_strategy,
        retrain_threshold_target=config.threshold_target,
        _env_file=None,
        **overrides,
    )


def recorded_settings(settings: Settings) -> dict[str, Any]:
    """The service settings a replay's figures depend on, whatever the environment set."""
    wanted = {name for name in type(settings).model_fields if name.startswith("retrain_")}
    wanted |= {"categories", "nightly_retrain", "score_batch_size", "scoring_precision", "device"}
    return settings.model_dump(mode="json", include=wanted)


def run_nightly(
    sessions: sessionmaker[Session], settings: Settings, holder: ModelHolder
) -> tuple[RetrainOutcome | None, float]:
    """The daily job's nightly part, as the scheduler runs it after ingestion: retrain when the
    labels changed since the active model, gate, activate, re-score every stored day. The one
    place to change when the service's schedule changes. Returns the retrain (None: the service
    saw no reason to retrain) and the seconds the whole part took."""
    with sessions() as session:
        previous = last_retrain(session)
    started = time.perf_counter()
    outcome = after_ingestion(sessions, settings, holder)
    seconds = time.perf_counter() - started
    with sessions() as session:
        run = last_retrain(session)
    if run is not None and (previous is None or run.id != previous.id) and run.status != "success":
        # The job logs a failed retrain and carries on; a replay must not.
        raise ReplayError(f"the nightly retrain ended {run.status}: {run.reason}")
    return outcome, seconds


def store_prior_labels(sessions: sessionmaker[Session], frame: pd.DataFrame, workdir: Path) -> int:
    """The labels before the period, imported as `arxiv-reco labels import` does."""
    path = workdir / "prior_labels.csv"
    csv_frame(frame).to_csv(path, index=False)
    with session_scope(sessions) as session:
        report = import_labels_csv(session, path)
    return report.new_labels


def served_scores(
    sessions: sessionmaker[Session], loaded: LoadedModel, day: dt.date
) -> dict[str, float]:
    """The current score of each paper of ``day`` under the served model."""
    with sessions() as session:
        rows = session.execute(
            select(Paper.id, Score.probability)
            .join(Score, current_score(loaded.version_id))
            .where(Paper.submitted_on == day)
        ).all()
    return {paper_id: probability for paper_id, probability in rows}


def reveal_labels(sessions: sessionmaker[Session], labels: dict[str, int]) -> None:
    with session_scope(sessions) as session:
        for paper_id, interest in labels.items():
            set_label(session, paper_id=paper_id, interest=interest, source=REVEAL_SOURCE)


@contextlib.contextmanager
def run_directory(base: Path | None, kind: str) -> Iterator[Path]:
    """A fresh data directory: temporary, or kept under ``base`` for inspection."""
    if base is None:
        with tempfile.TemporaryDirectory(prefix=f"prequential-{kind}-") as tmp:
            yield Path(tmp)
        return
    path = base / kind
    if path.exists() and any(path.iterdir()):
        raise ReplayError(f"--work-dir: {path} is not empty; each run needs a fresh database")
    path.mkdir(parents=True, exist_ok=True)
    yield path


def replay(
    kind: str,
    frame: pd.DataFrame,
    days: Sequence[dt.date],
    api_url: str,
    config: ReplayConfig,
    *,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """One replay on a fresh database; ``kind`` "fixed" retrains once, before the first day."""
    started = time.perf_counter()
    by_day = {day: rows for day, rows in frame.groupby(frame["submission_date"].dt.date)}
    with run_directory(work_dir, kind) as data_dir:
        settings = make_settings(data_dir, api_url, config)
        database = Database(settings.resolved_database_url)
        sessions = database.sessions
        prior = frame[frame["submission_date"].dt.date < days[0]]
        store_prior_labels(sessions, prior, data_dir)
        holder = ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)
        results: list[DayResult] = []
        for index, day in enumerate(days):
            outcome, nightly_seconds = None, None
            if index == 0 if kind == "fixed" else index % config.retrain_every == 0:
                outcome, nightly_seconds = run_nightly(sessions, settings, holder)
            rows = by_day[day]
            rows = rows[followed(rows, settings.categories)]
            expected = dict(zip(rows["paper_id"], rows["interest"].astype(int), strict=True))
            report = ingest_day(sessions, day, settings, model=holder.get, trigger="replay")
            if report.status != "success" or report.fetched != len(expected):
                raise ReplayError(
                    f"{kind} {day}: expected a successful ingestion of the CSV's {len(expected)} "
                    f"papers in {settings.categories}, got {report.status} with "
                    f"{report.fetched} fetched ({report.error or 'no error'})"
                )
            loaded = holder.get()
            if loaded is None:
                raise ReplayError(
                    f"{kind} {day}: no active model after the nightly retrain (its reason is in "
                    "the log; are the labels before the period of one class?)"
                )
            scores = served_scores(sessions, loaded, day)
            if set(scores) != set(expected):
                missing = sorted(set(expected) - set(scores))
                raise ReplayError(
                    f"{kind} {day}: expected a score by model version {loaded.version_id} for "
                    f"each of the {len(expected)} papers, {len(missing)} have none "
                    f"(e.g. {missing[:3]}); {len(set(scores) - set(expected))} unexpected"
                )
            ids = sorted(expected)
            probability = np.array([scores[i] for i in ids], dtype=float)
            result = DayResult(
                day=day,
                paper_ids=ids,
                interest=np.array([expected[i] for i in ids], dtype=int),
                probability=probability,
                recommended=np.array(
                    [is_recommended(p, loaded.threshold) for p in probability], dtype=bool
                ),
                model_version_id=loaded.version_id,
                threshold=loaded.threshold,
                ingest_score_seconds=report.seconds,
                retrain=outcome,
                nightly_seconds=nightly_seconds,
            )
            reveal_labels(sessions, expected)
            results.append(result)
            _log_day(kind, result)
        seconds = time.perf_counter() - started
        final = None
        if kind == "nightly":
            # Not part of the replay: the cost of one retrain on every label, for scaling.
            final, _ = run_nightly(sessions, settings, holder)
        if final is not None:
            logger.info(
                "%s: a retrain on all %d labels took %.1f s", kind, final.labels, final.seconds
            )
        with sessions() as session:
            stored = dict(
                session.execute(select(Label.source, func.count()).group_by(Label.source)).all()
            )
        database.dispose()
    figures = run_figures(results, seconds)
    figures["labels_stored"] = stored
    figures["final_retrain"] = (
        None if final is None else {"labels": final.labels, "seconds": round(final.seconds, 2)}
    )
    figures["daily"] = [r.as_dict() for r in results]
    return figures


def _log_day(kind: str, result: DayResult) -> None:
    ap, top = result.average_precision, result.precision_at_k
    retrain_text = "-"
    if result.retrain is not None:
        retrain_text = f"{result.retrain.seconds:.1f} s" + (
            " (activated)" if result.retrain.activated else " (kept the active model)"
        )
    logger.info(
        "%s %s: %4d papers, %3d positive, AP %s, P@10 %s, %3d recommended, retrain %s",
        kind,
        result.day,
        len(result.paper_ids),
        result.positives,
        "  -  " if ap is None else f"{ap:.3f}",
        "  -  " if top is None else f"{top:.3f}",
        int(result.recommended.sum()),
        retrain_text,
    )


# Figures -----------------------------------------------------------------------------------


def run_figures(results: Sequence[DayResult], total_seconds: float) -> dict[str, Any]:
    y = np.concatenate([r.interest for r in results])
    s = np.concatenate([r.probability for r in results])
    recommended = np.concatenate([r.recommended for r in results]).astype(int)
    daily_ap = [ap for r in results if (ap := r.average_precision) is not None]
    top = [p for r in results if (p := r.precision_at_k) is not None]
    retrains = [r.retrain for r in results if r.retrain is not None]
    retrain_seconds = [o.seconds for o in retrains]
    nightly_seconds = [
        r.nightly_seconds
        for r in results
        if r.retrain is not None and r.nightly_seconds is not None
    ]
    f1 = float(f1_score(y, recommended, zero_division=0))
    best = best_f1_threshold(y, s)[1] if 0 < y.sum() < len(y) else None
    return {
        "average_precision": _average_precision(y, s),
        "mean_daily_average_precision": statistics.fmean(daily_ap) if daily_ap else None,
        "precision_at_10": statistics.fmean(top) if top else None,
        "precision": float(precision_score(y, recommended, zero_division=0)),
        "recall": float(recall_score(y, recommended, zero_division=0)),
        "f1": f1,
        "recommended_per_day": float(recommended.sum()) / len(results),
        "optimistic_best_f1": best,
        "f1_ratio": f1 / best if best else None,
        "days": len(results),
        "papers": len(y),
        "positives": int(y.sum()),
        "retrains": len(retrains),
        "activated": sum(o.activated for o in retrains),
        "retrain_seconds_mean": statistics.fmean(retrain_seconds) if retrain_seconds else None,
        "retrain_seconds_max": max(retrain_seconds, default=None),
        "nightly_seconds_mean": statistics.fmean(nightly_seconds) if nightly_seconds else None,
        "ingest_score_seconds_mean": statistics.fmean(r.ingest_score_seconds for r in results),
        "total_seconds": total_seconds,
    }


FIGURES = (
    "average_precision",
    "mean_daily_average_precision",
    "precision_at_10",
    "precision",
    "recall",
    "f1",
    "recommended_per_day",
    "optimistic_best_f1",
    "f1_ratio",
    "days",
    "papers",
    "positives",
    "retrains",
    "activated",
    "retrain_seconds_mean",
    "retrain_seconds_max",
    "nightly_seconds_mean",
    "ingest_score_seconds_mean",
    "total_seconds",
)


def markdown_table(runs: dict[str, dict[str, Any]]) -> str:
    def cell(name: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return (
                f"{value:.1f}" if name.endswith("seconds") or "seconds_" in name else f"{value:.3f}"
            )
        return str(value)

    kinds = list(runs)
    lines = ["| figure | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    lines += [
        f"| {name} | " + " | ".join(cell(name, runs[kind][name]) for kind in kinds) + " |"
        for name in FIGURES
    ]
    return "\n".join(lines)


# The command -------------------------------------------------------------------------------


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-04-28, got {text!r}") from err


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of days >= 1, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.prequential",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled CSV")
    parser.add_argument(
        "--from",
        dest="first",
        type=_date,
        help=f"first replayed day (default: the CSV's last {DEFAULT_LAST_DAYS} listing days)",
    )
    parser.add_argument("--to", dest="last", type=_date, help="last replayed day (default: all)")
    parser.add_argument(
        "--retrain-every", type=_positive, default=1, help="retrain every N-th replayed day"
    )
    parser.add_argument("--method", choices=("tfidf", "embed", "finetune"), default="tfidf")
    parser.add_argument(
        "--threshold-strategy", choices=("f1", "per_day", "precision", "recall"), default="f1"
    )
    parser.add_argument("--threshold-target", type=float, help="for per_day/precision/recall")
    parser.add_argument("--json", type=Path, help="write the settings and figures here")
    parser.add_argument("--no-fixed", action="store_true", help="skip the never-retrained model")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep each run's data directory (database, models) under DIR/<run> instead of a "
        "temporary one",
    )
    args = parser.parse_args(argv)
    if args.threshold_strategy == "f1" and args.threshold_target is not None:
        parser.error("--threshold-target is only used with per_day, precision or recall")
    if args.threshold_strategy != "f1" and args.threshold_target is None:
        parser.error(f"--threshold-strategy {args.threshold_strategy} needs --threshold-target")
    return args


def code_state() -> dict[str, Any]:
    """The commit and the service files changed on top of it, so a figure can be traced to the
    code that made it (`app/` and `training/` change under a running benchmark)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "app", "training", "migrations")
    return {
        "commit": git("rev-parse", "HEAD"),
        "changed": None if changed is None else changed.splitlines(),
        "versions": library_versions(),
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2, default=str)
        out.write("\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logger.setLevel(logging.INFO)
    frame = load_labelled_csv(args.data)
    days = replay_days(frame, args.first, args.last)
    config = ReplayConfig(
        data=args.data,
        first=days[0],
        last=days[-1],
        retrain_every=args.retrain_every,
        method=args.method,
        threshold_strategy=args.threshold_strategy,
        threshold_target=args.threshold_target,
    )
    frame = frame[frame["submission_date"].dt.date <= config.last]
    logger.info(
        "replaying %d days (%s to %s) of %s, %d labels before them",
        len(days),
        days[0],
        days[-1],
        args.data,
        int((frame["submission_date"].dt.date < days[0]).sum()),
    )
    code = code_state()  # before the runs: the code they import
    kinds = [k for k in RUN_KINDS if not (k == "fixed" and args.no_fixed)]
    runs: dict[str, dict[str, Any]] = {}
    with ArxivStandIn(catalog_of(frame, days)) as standin:
        for kind in kinds:
            runs[kind] = replay(kind, frame, days, standin.url, config, work_dir=args.work_dir)
    print(markdown_table(runs), flush=True)
    if args.json is not None:
        payload = {
            "command": [
                "-m",
                "bench.prequential",
                *(sys.argv[1:] if argv is None else argv),
            ],
            "settings": config.as_dict(),
            "service_settings": recorded_settings(
                make_settings(Path("data"), "http://127.0.0.1/api/query", config)
            ),
            "code": code,
            "runs": runs,
        }
        _write_json(args.json, payload)
        logger.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
