"""``ingest``, ``labels`` and ``seed``: papers in from arXiv, labels in and out."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import open_database
from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.arxiv_source import ArxivClient, FetchError
from app.jobs.ingest import RangeError, check_range
from app.jobs.scheduler import DailyJob
from app.label_import.service import (
    author_candidates,
    chosen_papers,
    import_file,
    import_references,
)
from app.serving.holder import ModelHolder
from app.store.labels import export_labels_csv, labels_csv_text
from app.store.schema import DEFAULT_TOPIC
from app.store.topics import TopicNotFound, find_topic
from training.inference.layout import DataError


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.date is None and args.to is not None:
        raise SystemExit("--to needs --date")
    if args.date is not None:
        try:
            check_range(args.date, args.to or args.date, settings)
        except RangeError as err:
            raise SystemExit(f"nothing ingested: {err}") from None
    sessions = open_database(settings).sessions
    job = DailyJob(sessions, settings, ModelHolder.from_settings(sessions, settings))
    job.sweep_interrupted()
    # The same lock as the service's daily job: never two ingestions of one database at once.
    if job.is_running():
        raise SystemExit(
            f"nothing ingested: {job.lock_holder()} is already running (the service's or another "
            "command's); try again when it is done (see /status)"
        )
    if args.date is None:
        reports = job.run(trigger="manual")
    else:
        reports = job.run_range(args.date, args.to or args.date, trigger="manual")
    print(f"{'day':<10}  {'status':<7}  {'fetched':>7}  {'new':>5}  {'updated':>7}  {'scored':>6}")
    for r in reports:
        print(
            f"{r.day.isoformat():<10}  {r.status:<7}  {r.fetched:>7}  {r.new:>5}  "
            f"{r.updated:>7}  {r.scored:>6}" + (f"  {r.error}" if r.error else "")
        )
    return 1 if any(r.status != "success" for r in reports) else 0


def cmd_labels(args: argparse.Namespace, settings: Settings) -> int:
    sessions = open_database(settings).sessions
    with sessions() as session:
        try:
            topic_id = find_topic(session, args.topic or DEFAULT_TOPIC).id
        except TopicNotFound as err:
            raise SystemExit(
                f"labels {args.action}: {err}; `arxiv-reco topics add` makes one"
            ) from None
    if args.action == "import":
        try:
            with session_scope(sessions) as session:
                report = import_file(
                    session,
                    args.file,
                    client=ArxivClient(settings),
                    format=args.format,
                    prefer_file=args.prefer_file,
                    topic_id=topic_id,
                )
        except (DataError, FetchError) as err:
            raise SystemExit(f"nothing imported: {err}") from None
        print("\n".join(report.lines()))
        return 0
    with sessions() as session:
        if args.file is None:
            sys.stdout.write(labels_csv_text(session, None if args.all_topics else topic_id))
        else:
            count = export_labels_csv(session, args.file, None if args.all_topics else topic_id)
            print(f"wrote {count} labels to {args.file}")
    return 0


def _picks(text: str, count: int) -> list[int]:
    """``1,3,5`` or ``2-4`` (or ``all``) as 0-based indexes into a list of ``count``."""
    if text.strip().lower() == "all":
        return list(range(count))
    chosen: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"{part!r} is not a number or a range like 2-4") from None
        if not 1 <= low <= high <= count:
            raise ValueError(f"{part!r} is not among the numbers 1 to {count}")
        chosen += [i - 1 for i in range(low, high + 1) if i - 1 not in chosen]
    return chosen


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    sessions = open_database(settings).sessions
    client = ArxivClient(settings)
    try:
        with sessions() as session:
            candidates = author_candidates(
                session, client=client, name=args.author, limit=args.limit
            )
    except ValueError as err:
        raise SystemExit(f"no search: {err}") from None
    except FetchError as err:
        raise SystemExit(f"no search: {err}") from None
    if not candidates:
        print(f'arXiv lists no papers for the author "{args.author}" (au:"{args.author}")')
        return 1
    print(f'{len(candidates)} papers on arXiv for "{args.author}", newest first:')
    for number, candidate in enumerate(candidates, start=1):
        paper = candidate.paper
        mark = {1: " ✓", 0: " ✕"}.get(candidate.label, "")  # type: ignore[arg-type]
        authors = ", ".join(paper.authors[:3]) + (", …" if len(paper.authors) > 3 else "")
        print(
            f"{number:>3}. {paper.id}  {paper.submitted_at:%Y-%m-%d}  {paper.title} ({authors})"
            + (" [stored" + mark + "]" if candidate.stored else "")
        )
    if args.yes:
        picked = list(range(len(candidates)))
    else:
        answer = args.pick
        if answer is None:
            if not sys.stdin.isatty():
                raise SystemExit(
                    "no terminal to ask which papers are yours: give --pick 1,3,5 (the numbers "
                    "above) or --yes (every paper listed)"
                )
            answer = input("Which are yours? Numbers such as 1,3,5 or 2-4, or all: ")
        try:
            picked = _picks(answer, len(candidates))
        except ValueError as err:
            raise SystemExit(f"nothing labelled: {err}") from None
    if not picked:
        print("nothing labelled: no paper picked")
        return 0
    chosen = [candidates[i].paper for i in picked]
    try:
        with session_scope(sessions) as session:
            report = import_references(
                session,
                chosen_papers(f"papers of {args.author}", chosen),
                client=client,
                known={paper.id: paper for paper in chosen},
            )
    except FetchError as err:  # pragma: no cover - the papers are known: nothing is fetched
        raise SystemExit(f"nothing labelled: {err}") from None
    print("\n".join(report.lines()))
    return 0
