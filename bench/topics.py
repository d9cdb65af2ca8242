"""Issue 19's figures for topics: the migration's time on a big database, and what scoring a day
costs for several topics.

    .venv/bin/python -m bench.topics migration [--papers 170000] [--labels 4000]
        [--postgres postgresql+psycopg://...]
    .venv/bin/python -m bench.topics scoring [--topics 5] [--char-ngrams K]
    .venv/bin/python -m bench.topics quality [--cutoffs 0.7,0.8]

``migration`` builds a database at revision 0007 (the schema before topics) holding ``--papers``
papers (each scored by one model, the full-text index filled by its triggers), ``--labels``
labels and onboarding skips, then times ``alembic upgrade 0008`` and, for the way back,
``downgrade 0007``; on SQLite in a temporary file, and on the PostgreSQL server given (a fresh
database made there and dropped afterwards).

``quality`` splits the shared benchmark's interesting papers into three topics by their primary
category (cs.CL, cs.CV, the rest) and, at two date cut-offs, trains the served tfidf recipe once
on every label (the single mixed model a reader without topics has) and once per topic (its ✓
papers and every ✕; another topic's ✓ papers are left out, never negatives), then compares, per
topic, the average precision of both models on the later days (a paper is relevant to a topic
when it is interesting and in the topic's category).

``scoring`` trains one tfidf model per topic on the shared benchmark's labels (each topic a
different slice of them, as readers' topics differ; the service's retrain recipe) and times
scoring the largest real listing day, best of five runs each: one topic's model, ``--topics``
models one after another (``score_papers``, as before topics shared anything), and the same
models together (``score_together``, what an ingestion does: the terms cut once); the ratios to
one topic are the figures, and every model's scores together must equal its scores alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.db import Database, alembic_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "arxiv_interest_2025spring.csv"


def _fill(url: str, *, papers: int, labels: int) -> None:
    """A database at 0007 with the papers, one model's scores, labels and skips."""
    command.upgrade(alembic_config(url), "0007")
    database = Database(url, migrate=False)
    engine = database.engine
    now = dt.datetime(2025, 3, 19, tzinfo=dt.timezone.utc)
    chunk = 5000
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (id, name, path, method, metrics, is_active, "
                "created_at) VALUES (1, 'bench', '/bench/m', 'tfidf', '{}', :yes, :now)"
            ),
            {"yes": True, "now": now},
        )
    for start in range(0, papers, chunk):
        rows = [
            {
                "id": f"2501.{n:05d}" if n < 100000 else f"2502.{n - 100000:05d}",
                "title": f"A paper on topic {n % 97} and method {n % 13}",
                "abstract": f"We study problem {n % 211} with approach {n % 17}. " * 8,
                "day": (now + dt.timedelta(days=n % 250)).date(),
                "now": now,
            }
            for n in range(start, min(start + chunk, papers))
        ]
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO papers (id, version, title, abstract, authors, categories, "
                    "subject_classes, primary_category, submitted_at, submitted_on, abs_url, "
                    "first_seen_at, last_changed_at) VALUES (:id, 1, :title, :abstract, "
                    "'[\"A. Author\"]', '[\"cs.LG\"]', '[]', 'cs.LG', :now, :day, 'x', :now, "
                    ":now)"
                ),
                rows,
            )
            connection.execute(
                text(
                    "INSERT INTO scores (paper_id, model_version_id, probability, "
                    "paper_version, scored_at) VALUES (:id, 1, 0.5, 1, :now)"
                ),
                rows,
            )
    with engine.begin() as connection:
        ids = [r[0] for r in connection.execute(text(f"SELECT id FROM papers LIMIT {labels}"))]
        connection.execute(
            text(
                "INSERT INTO labels (paper_id, interest, source, created_at, updated_at) "
                "VALUES (:id, :interest, 'web', :now, :now)"
            ),
            [{"id": i, "interest": int(n % 7 == 0), "now": now} for n, i in enumerate(ids)],
        )
        connection.execute(
            text("INSERT INTO onboarding_skips (paper_id, skipped_at) VALUES (:id, :now)"),
            [{"id": i, "now": now} for i in ids[:100]],
        )
    database.dispose()


def _admin(server_url: str, statement: str) -> None:
    """A statement outside a transaction (CREATE DATABASE), on the server's own database."""
    import psycopg

    plain = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def _timed_migration(url: str) -> dict[str, float]:
    config = alembic_config(url)
    started = time.perf_counter()
    command.upgrade(config, "0008")
    up = time.perf_counter() - started
    started = time.perf_counter()
    command.downgrade(config, "0007")
    down = time.perf_counter() - started
    return {"upgrade_s": round(up, 2), "downgrade_s": round(down, 2)}


def migration(args: argparse.Namespace) -> dict[str, object]:
    results: dict[str, object] = {"papers": args.papers, "labels": args.labels}
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as folder:
        url = f"sqlite:///{folder}/bench.db"
        started = time.perf_counter()
        _fill(url, papers=args.papers, labels=args.labels)
        print(f"sqlite: filled in {time.perf_counter() - started:.0f}s", flush=True)
        results["sqlite"] = _timed_migration(url)
        print(f"sqlite: {results['sqlite']}", flush=True)
    if args.postgres:
        server = make_url(args.postgres)
        name = f"bench_topics_{uuid.uuid4().hex[:8]}"
        _admin(args.postgres, f"CREATE DATABASE {name}")
        url = server.set(database=name).render_as_string(hide_password=False)
        try:
            started = time.perf_counter()
            _fill(url, papers=args.papers, labels=args.labels)
            print(f"postgresql: filled in {time.perf_counter() - started:.0f}s", flush=True)
            results["postgresql"] = _timed_migration(url)
            print(f"postgresql: {results['postgresql']}", flush=True)
        finally:
            _admin(args.postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return results


def scoring(args: argparse.Namespace) -> dict[str, object]:
    from app.demo.standin import listing_files, read_listing
    from training.config import TrainConfig
    from training.inference.artifact import PaperInput
    from training.inference.layout import load_labelled_csv
    from training.inference.predictor import load_predictor, score_papers, score_together
    from training.train import train

    frame = load_labelled_csv(DATA)
    day, rows = max(
        (
            (d, read_listing(p))
            for d, p in listing_files(ROOT.parent / "shared/data/listings").items()
        ),
        key=lambda item: len(item[1]),
    )
    papers = [
        PaperInput(
            title=r["title"],
            abstract=r["summary"],
            categories=tuple(r.get("categories") or ()),
            authors=tuple(r.get("authors") or ()),
            comment=r.get("comment"),
        )
        for r in rows
    ]
    models = []
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as folder:
        for topic in range(args.topics):
            # Each topic: every other slice of the labels, so that the topics' vocabularies differ.
            part = frame.iloc[topic :: args.topics].reset_index(drop=True)
            # The service's retrain recipe (ARXIV_RECO_RETRAIN_SECOND_STAGE is on by default).
            config = TrainConfig(
                output=f"{folder}/topic{topic}",
                method="tfidf",
                progress=False,
                seed=topic,
                second_stage=True,
                tfidf_char_ngrams=topic >= args.topics - args.char_ngrams,
            )
            result = train(config, frame=part, source=f"slice {topic}")
            models.append(load_predictor(result.path))
        together = score_together(models, papers)
        worst = max(
            float(np.abs(score_papers(m, papers) - t).max())
            for m, t in zip(models, together, strict=True)
        )

        def best(run: Callable[[], object]) -> float:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
            return min(times)

        best(lambda: score_papers(models[0], papers))  # warm-up
        one = best(lambda: score_papers(models[0], papers))
        apart = best(lambda: [score_papers(m, papers) for m in models])
        shared = best(lambda: score_together(models, papers))
    return {
        "day": str(day),
        "papers": len(papers),
        "topics": args.topics,
        "with_char_ngrams": args.char_ngrams,
        "one_topic_s": round(one, 4),
        f"{args.topics}_topics_one_after_another_s": round(apart, 4),
        f"{args.topics}_topics_together_s": round(shared, 4),
        "ratio_one_after_another": round(apart / one, 2),
        "ratio_together": round(shared / one, 2),
        "largest_difference_together_vs_alone": worst,
    }


TOPICS = {"language": ("cs.CL",), "vision": ("cs.CV",)}  # and "other": the rest


def _topic_of_paper(categories: str) -> str:
    primary = categories.split(",")[0].strip()
    return next((name for name, cats in TOPICS.items() if primary in cats), "other")


def _fit_and_score(
    rows: pd.DataFrame, later: pd.DataFrame, output: str, *, second_stage: bool
) -> np.ndarray:
    """The served tfidf recipe fit on ``rows``, scoring ``later``."""
    from training.config import TrainConfig
    from training.inference.layout import paper_inputs
    from training.inference.predictor import load_predictor, score_papers
    from training.train import train

    config = TrainConfig(output=output, method="tfidf", progress=False, second_stage=second_stage)
    result = train(config, frame=rows.drop(columns="topic").reset_index(drop=True), source=output)
    return score_papers(load_predictor(result.path), paper_inputs(later))


def _ece(probabilities: np.ndarray, relevant: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the bins' |mean probability - share relevant|, weighted."""
    which = np.minimum((np.asarray(probabilities) * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap = abs(float(np.mean(probabilities[inside])) - float(np.mean(relevant[inside])))
            total += gap * inside.sum() / len(probabilities)
    return total


def quality(args: argparse.Namespace) -> dict[str, object]:
    from sklearn.metrics import average_precision_score

    from training.inference.layout import load_labelled_csv

    frame = load_labelled_csv(DATA).sort_values("submission_date", kind="stable")
    frame = frame.reset_index(drop=True)
    frame["topic"] = [_topic_of_paper(c) for c in frame["categories"]]
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as folder:
        for cutoff in args.cutoffs:
            days = sorted(frame["submission_date"].dt.date.unique())
            first_test = days[int(len(days) * cutoff)]
            past = frame[frame["submission_date"].dt.date < first_test].reset_index(drop=True)
            later = frame[frame["submission_date"].dt.date >= first_test].reset_index(drop=True)

            stage = args.second_stage
            mixed = _fit_and_score(past, later, f"{folder}/{cutoff}-mixed", second_stage=stage)
            table = {}
            for topic in (*TOPICS, "other"):
                own = past[(past["topic"] == topic) | (past["interest"] == 0)]
                scores = _fit_and_score(
                    own, later, f"{folder}/{cutoff}-{topic}", second_stage=stage
                )
                relevant = ((later["interest"] == 1) & (later["topic"] == topic)).to_numpy()
                table[topic] = {
                    "train_positives": int((own["interest"] == 1).sum()),
                    "later_positives": int(relevant.sum()),
                    "ap_topic_model": round(float(average_precision_score(relevant, scores)), 3),
                    "ap_mixed_model": round(float(average_precision_score(relevant, mixed)), 3),
                    # Calibration: how far the topic model's probabilities are from the rate of
                    # its ✓ among the papers so scored (10 equal-width bins, weighted).
                    "ece_topic_model": round(float(_ece(scores, relevant)), 3),
                    "mean_probability_topic_model": round(float(np.mean(scores)), 4),
                    "positive_rate": round(float(np.mean(relevant)), 4),
                }
                print(f"cutoff {cutoff} {topic}: {table[topic]}", flush=True)
            results[f"cutoff {cutoff} (later days from {first_test})"] = table
    tables = [t for t in results.values() if isinstance(t, dict)]
    results["mean over the cut-offs"] = {
        topic: {
            which: round(float(np.mean([t[topic][which] for t in tables])), 3)
            for which in ("ap_topic_model", "ap_mixed_model")
        }
        for topic in (*TOPICS, "other")
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    mig = sub.add_parser("migration", help="migration 0008's time on a big database")
    mig.add_argument("--papers", type=int, default=170_000)
    mig.add_argument("--labels", type=int, default=4_000)
    mig.add_argument("--postgres", help="a PostgreSQL server URL (a database is made there)")
    sco = sub.add_parser("scoring", help="scoring a day for one topic and for several")
    sco.add_argument("--topics", type=int, default=5)
    sco.add_argument(
        "--char-ngrams",
        type=int,
        default=0,
        metavar="K",
        help="the last K topics' models add character n-grams (a recipe of their own)",
    )
    qua = sub.add_parser("quality", help="per-topic models against one mixed model")
    qua.add_argument(
        "--cutoffs",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[0.7, 0.8],
        help="shares of the days that train (the rest are the later days measured)",
    )
    qua.add_argument(
        "--second-stage",
        action="store_true",
        help="the service's retrain recipe: a second stage beside the text model",
    )
    args = parser.parse_args()
    what = {"migration": migration, "scoring": scoring, "quality": quality}[args.what]
    result = what(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
