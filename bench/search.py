"""Search and "more like this" on a big database: latency of app.store.search, and the cost of
migration 0005 on a database that already holds the papers.

    .venv/bin/python -m bench.search [--papers 170000] [--database-url URL] [--runs 5]

The database gets the 7,701 real papers of the shared listings (`../shared/data/listings`, with
their authors and categories), then synthetic ones up to `--papers`: each a real title's words
and 5 to 9 sentences drawn from the real abstracts, with real authors, so the vocabulary and its
frequencies look like arXiv's. The papers are written at revision 0004 and the upgrade to the
head (0005: the FTS5 table and its backfill on SQLite; the stored tsvector, its GIN index and
ANALYZE on PostgreSQL) is timed. Then each query runs `--runs` times through `search_papers` and
`with_labels_and_scores` (what `GET /search` does, less HTTP), and "more like this" for 100 real
papers (`similar_papers`, limit 10); medians and the slowest are printed, and written to
`bench/out/search.json`, with how related "more like this" is: the share of its first five in the
paper's primary category, against random pairs of real papers.

The default database is SQLite in a temporary directory. For PostgreSQL, give an empty database
(`createdb`) as `--database-url`; a database that already holds papers is reused as it is (no fill,
no migration timing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import func, insert, inspect, select

from app.core.db import Database, alembic_config, session_scope
from app.demo.standin import listing_files, read_listing
from app.store.schema import Label, Paper
from app.store.search import search_papers, similar_papers, with_labels_and_scores

ROOT = Path(__file__).resolve().parents[1]
SIMILAR_SAMPLE = 100
SENTENCE = re.compile(r"(?<=[.!?])\s+")

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("language models", {}),
    ("diffusion", {}),
    ("sparse autoencoders", {}),
    ('"chain of thought"', {}),
    ("reinforcement learning -robot", {}),
    ("graph or hypergraph", {}),
    ("language models", {"category": "cs.CV"}),
    ("language models", {"unlabelled": True}),
    ("language models", {"since": "recent"}),
]


def real_papers(listings: Path) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for path in listing_files(listings).values():
        for row in read_listing(path):
            rows.setdefault(row["id"], row)
    return list(rows.values())


def paper_rows(real: list[dict[str, Any]], count: int, seed: int = 0) -> list[dict[str, Any]]:
    """The real papers, then synthetic ones made of their parts, ``count`` in all."""
    rng = random.Random(seed)
    sentences = [s for r in real for s in SENTENCE.split(" ".join(r["summary"].split()))]
    names = [name for r in real for name in r["authors"]]
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    rows = []
    for number in range(count):
        if number < len(real):
            source = real[number]
            title, abstract = source["title"], " ".join(source["summary"].split())
            authors, paper_id = source["authors"], source["id"]
        else:
            source = real[rng.randrange(len(real))]
            other = real[rng.randrange(len(real))]["title"].split()
            title = " ".join(source["title"].split()[:6] + other[: rng.randint(0, 4)])
            abstract = " ".join(rng.sample(sentences, rng.randint(5, 9)))
            authors = rng.sample(names, rng.randint(1, 6))
            paper_id = f"{2600 + number // 99_999}.{number % 99_999:05d}"
        # Spread over a year and a half, first stored on their day.
        stamp = start + dt.timedelta(minutes=5 * number)
        rows.append(
            {
                "id": paper_id,
                "version": 1,
                "title": title,
                "abstract": abstract,
                "authors": authors,
                "categories": source["categories"],
                "primary_category": source["categories"][0],
                "submitted_at": stamp,
                "submitted_on": stamp.date(),
                "abs_url": f"https://arxiv.org/abs/{paper_id}",
                "first_seen_at": stamp,
                "last_changed_at": stamp,
            }
        )
    return rows


def fill(url: str, rows: list[dict[str, Any]]) -> float:
    """Write the papers at revision 0004 and label 1% of them; the seconds the upgrade to the
    head took."""
    config = alembic_config(url)
    command.upgrade(config, "0004")
    with Database(url, migrate=False) as database:
        for start in range(0, len(rows), 5000):
            with session_scope(database.sessions) as session:
                session.execute(insert(Paper), rows[start : start + 5000])
        with session_scope(database.sessions) as session:
            session.execute(
                insert(Label),
                [
                    {"paper_id": r["id"], "interest": i % 2, "source": "bench"}
                    for i, r in enumerate(rows[::100])
                ],
            )
    started = time.perf_counter()
    command.upgrade(config, "head")
    return time.perf_counter() - started


def timed(runs: int, action: Any) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=170_000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--listings", type=Path, default=ROOT.parent / "shared/data/listings")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/out/search.json")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="bench-search-")
    url = args.database_url or f"sqlite:///{Path(scratch.name) / 'search.db'}"
    real = real_papers(args.listings)
    migration_seconds = None
    with Database(url, migrate=False) as probe:
        stored = 0
        if inspect(probe.engine).has_table("papers"):
            with probe.session() as session:
                stored = session.scalar(select(func.count(Paper.id))) or 0
        display_url = probe.display_url
    if stored == 0:
        print(f"writing {args.papers} papers ({len(real)} real) at revision 0004 ...", flush=True)
        migration_seconds = fill(url, paper_rows(real, args.papers))
        print(f"migration 0005 on {args.papers} papers: {migration_seconds:.1f} s", flush=True)

    results: dict[str, Any] = {"url": display_url, "migration_0005_seconds": migration_seconds}
    rows = []
    with Database(url) as database, database.session() as session:
        results["papers"] = session.scalar(select(func.count(Paper.id)))
        # The last week's papers.
        newest = session.scalar(select(func.max(Paper.first_seen_at)))
        assert newest is not None, "no papers"
        recent = newest - dt.timedelta(days=7)
        for query, options in QUERIES:
            if options.get("since") == "recent":
                options = {**options, "since": recent}

            def run(query: str = query, options: dict[str, Any] = options) -> int:
                found = search_papers(session, query=query, limit=20, **options)
                return len(with_labels_and_scores(session, found, model=None))

            seconds, found = timed(args.runs, run)
            name = query + "".join(f" {k}" for k in options)
            rows.append((f"search {name}", seconds, found))
        rng = random.Random(1)
        sample = rng.sample([r["id"] for r in real], SIMILAR_SAMPLE)
        similar_seconds, same, listed = [], 0, 0
        for paper_id in sample:
            paper = session.get_one(Paper, paper_id)
            seconds, found = timed(1, lambda paper=paper: similar_papers(session, paper=paper))
            similar_seconds += seconds
            same += sum(p.primary_category == paper.primary_category for p in found[:5])
            listed += len(found[:5])
        rows.append(
            (f"more like this ({SIMILAR_SAMPLE} real papers, once each)", similar_seconds, 10)
        )
        # How related: the share of the first five sharing the paper's primary category, against
        # the share of random pairs of real papers that do.
        categories = [r["categories"][0] for r in real]
        pairs = [(rng.choice(categories), rng.choice(categories)) for _ in range(20_000)]
        results["similar_same_primary_category_at_5"] = same / max(listed, 1)
        results["random_pairs_same_primary_category"] = sum(a == b for a, b in pairs) / len(pairs)

    print(f"\n{results['papers']} papers, {results['url']}\n")
    print(
        "more like this, first five in the paper's primary category: "
        f"{results['similar_same_primary_category_at_5']:.3f} "
        f"(random pairs of real papers: {results['random_pairs_same_primary_category']:.3f})\n"
    )
    print("| what | median ms | slowest ms | papers listed |")
    print("| --- | ---: | ---: | ---: |")
    results["cases"] = []
    for name, seconds, found in rows:
        median, worst = statistics.median(seconds) * 1000, max(seconds) * 1000
        print(f"| {name} | {median:.0f} | {worst:.0f} | {found} |")
        results["cases"].append({"what": name, "median_ms": median, "max_ms": worst})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    scratch.cleanup()


if __name__ == "__main__":
    main()
