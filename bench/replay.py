"""Replay real arXiv days through the scheduler's code path against the local arXiv stand-in.

    .venv/bin/python -m bench.replay [--listings ../shared/data/listings]

Prints: papers in the listing files vs papers stored, duplicates, wall time, what a second replay
adds, and what each injected fault did (and that the next run completed the day).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import Database
from app.demo.standin import (
    ArxivStandIn,
    catalog_from_listings,
    listing_files,
    read_listing,
)
from app.jobs.ingest import ingest_day
from app.jobs.scheduler import DailyJob
from app.serving.holder import ModelHolder
from app.serving.registry import register_trained
from app.store.schema import IngestRun, Paper, Score
from bench.tiny import save_tiny_classifier
from training.inference.artifact import ModelMeta

ROOT = Path(__file__).resolve().parents[1]


def expected_from_files(listings: Path, categories: list[str]) -> set[str]:
    """Counted straight from the files, independently of the stand-in's catalog."""
    wanted = set(categories)
    ids: set[str] = set()
    for path in listing_files(listings).values():
        ids.update(r["id"] for r in read_listing(path) if wanted.intersection(r["categories"]))
    return ids


def counts(sessions) -> dict[str, int]:
    with sessions() as session:
        return {
            "papers": session.scalar(select(func.count(Paper.id))) or 0,
            "scores": session.scalar(select(func.count(Score.id))) or 0,
            "duplicate_papers": session.scalar(
                select(func.count()).select_from(
                    select(Paper.id).group_by(Paper.id).having(func.count() > 1).subquery()
                )
            )
            or 0,
            "duplicate_scores": session.scalar(
                select(func.count()).select_from(
                    select(Score.paper_id)
                    .group_by(Score.paper_id, Score.model_version_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            or 0,
        }


def make_settings(data_dir: Path, url: str, **overrides: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        arxiv_api_url=url,
        request_delay_seconds=0,
        retry_backoff_seconds=0.05,
        request_timeout_seconds=1.0,
        scheduler_enabled=False,
        _env_file=None,
        **overrides,
    )


def replay(listings: Path, work: Path) -> None:
    catalog = catalog_from_listings(listings)
    weekdays = sorted(listing_files(listings))
    with ArxivStandIn(catalog) as standin:
        settings = make_settings(work / "replay", standin.url)
        sessions = Database(settings.resolved_database_url).sessions
        model_dir = work / "tiny-model"
        texts = [e.title + "\n" + e.summary for e in list(catalog.entries.values())[:400]]
        save_tiny_classifier(texts, model_dir)
        meta = ModelMeta(method="finetune", threshold=0.5, max_length=512, base_model="tiny")
        meta.save(model_dir)
        register_trained(sessions, model_dir, meta, name="tiny", activate=True)
        holder = ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)
        job = DailyJob(sessions, settings, holder)

        expected = expected_from_files(listings, settings.categories)
        rows = []
        for attempt in ("first", "second"):
            before = counts(sessions)
            requests_before = len(standin.requests)
            started = time.perf_counter()
            reports = []
            for day in weekdays:
                # The scheduler's own entry, as if it fired on the morning after each day.
                reports += job.run(trigger="schedule", today=day + dt.timedelta(days=1))
            seconds = time.perf_counter() - started
            after = counts(sessions)
            rows.append(
                (
                    attempt,
                    len(weekdays),
                    len(reports),
                    sum(r.status != "success" for r in reports),
                    len(standin.requests) - requests_before,
                    sum(r.new for r in reports),
                    sum(r.updated for r in reports),
                    sum(r.scored for r in reports),
                    after["papers"] - before["papers"],
                    after["scores"] - before["scores"],
                    seconds,
                )
            )
        final = counts(sessions)
        stored = set()
        with sessions() as session:
            stored = set(session.scalars(select(Paper.id)))
    print(f"\nweekday listing files: {len(weekdays)} ({weekdays[0]} .. {weekdays[-1]})")
    print(f"papers in the files (followed categories {settings.categories}): {len(expected)}")
    print(f"papers stored: {final['papers']}  (equal: {stored == expected})")
    print(
        f"duplicate papers: {final['duplicate_papers']}  duplicate scores: "
        f"{final['duplicate_scores']}"
    )
    header = (
        "replay",
        "days",
        "runs",
        "failed",
        "requests",
        "new",
        "updated",
        "scored",
        "+papers",
        "+scores",
        "wall s",
    )
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |")


def faults(listings: Path, work: Path) -> None:
    day = dt.date(2025, 4, 15)  # the largest day: several pages at page size 200
    catalog = catalog_from_listings(listings, days=[day])
    print(f"\nfaults, on {day} ({len(catalog.entries)} papers listed), page size 200, retries 4")
    print("| fault | injected | status | requests | stored | error | next run | stored after |")
    print("|---|---|---|---|---|---|---|---|")
    for fault in ("429", "503", "timeout", "truncated", "empty", "garbage"):
        for times in (1, 5):
            with ArxivStandIn(catalog, timeout_delay=1.5) as standin:
                settings = make_settings(work / f"fault-{fault}-{times}", standin.url)
                sessions = Database(settings.resolved_database_url).sessions
                # The fault hits the second page, as many times in a row as said.
                standin.inject("ok", *[fault] * times)
                first = ingest_day(sessions, day, settings)
                stored_first = counts(sessions)["papers"]
                requests = len(standin.requests)
                second = ingest_day(sessions, day, settings)
                stored = counts(sessions)["papers"]
                with sessions() as session:
                    statuses = [r.status for r in session.scalars(select(IngestRun))]
            error = (first.error or "").replace("|", "/")[:70]
            print(
                f"| {fault} | {times}x | {first.status} | {requests} | {stored_first} | "
                f"{error} | {second.status} ({'/'.join(statuses)}) | {stored} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=Path, default=ROOT.parent / "shared/data/listings")
    parser.add_argument("--skip-faults", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        replay(args.listings, Path(tmp))
        if not args.skip_faults:
            faults(args.listings, Path(tmp))


if __name__ == "__main__":
    main()
