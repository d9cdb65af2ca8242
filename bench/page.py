"""The reader's page for a big day: server-side render time of `/` for 700 stored, scored papers.

    .venv/bin/python -m bench.page [--papers 700] [--runs 7]

Real papers from the shared listings (`../shared/data/listings`) get new ids on one day: every paper
with TeX in its title or abstract first, then the others in listing order, so the day holds far more
math than a real one. A tfidf model trained on the demo's 400 labels scores them through the
service's scorer; its copy with threshold 0 recommends every paper, so each of the 700 cards has its
reasons from the model (`app.serving.reasons`), as with `explain`. Each run is one `GET /?date=`
through the app in process (ASGI, no socket), after one warm-up request; the median is printed, with
the warm-up (first render: the model loaded, no formula cached) and, for comparison, the same page
with every formula converted afresh (a day's first view), with the math filter replaced by plain
escaping, and the reasons of the 700 papers alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from markupsafe import Markup, escape
from sqlalchemy import select

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.demo.standin import listing_files, read_listing
from app.main import create_app
from app.serving.holder import ModelHolder
from app.serving.reasons import reasons_for
from app.serving.registry import register_model
from app.serving.scoring import score_pending
from app.store.schema import IngestRun, Paper
from app.web import latex
from app.web.templating import TEMPLATES
from bench._shared import listing_paper
from training.config import TrainConfig
from training.inference.artifact import ModelMeta
from training.train import train

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 2, 2)


def day_rows(listings: Path, count: int) -> list[dict[str, object]]:
    """``count`` real papers, those with TeX first, with new ids on ``DAY``."""
    seen: set[str] = set()
    rows = []
    for path in listing_files(listings).values():
        for row in read_listing(path):
            if row["id"] not in seen:
                seen.add(row["id"])
                rows.append(row)
    with_tex = [r for r in rows if "$" in r["title"] + r["summary"]]
    chosen = (with_tex + [r for r in rows if r not in with_tex])[:count]
    papers = []
    for number, row in enumerate(chosen):
        new_id = f"{DAY:%y%m}.{number:05d}"
        papers.append(listing_paper(row, new_id, DAY))
    return papers


def timed_renders(  # type: ignore[no-untyped-def]
    client, url: str, runs: int, *, cold_math: bool = False
) -> tuple[float, list[float], int]:
    """The first render's seconds, then each of ``runs`` more; and the page's size. With
    ``cold_math`` every formula is converted afresh each time (its cache emptied first)."""
    times = []
    size = 0
    for _ in range(runs + 1):
        if cold_math:
            latex.tex_to_mathml.cache_clear()
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
        size = len(response.content)
    return times[0], times[1:], size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=700)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--listings", type=Path, default=ROOT.parent / "shared/data/listings")
    parser.add_argument("--labels", type=Path, default=ROOT / "app/demo/data/labels.csv")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    work = Path(tempfile.mkdtemp(prefix="bench-page-"))
    try:
        settings = Settings(
            data_dir=work / "data",
            scheduler_enabled=False,
            job_process=False,
            _env_file=None,
        )
        model_dir = work / "tfidf"
        train(
            TrainConfig(
                output=str(model_dir),
                data=str(args.labels),
                method="tfidf",
                c_grid=[1.0],
                progress=False,
            )
        )
        everything = work / "tfidf-threshold-0"
        shutil.copytree(model_dir, everything)
        meta = ModelMeta.load(everything)
        meta.threshold = 0.0
        meta.save(everything)

        papers = day_rows(args.listings, args.papers)
        with Database(settings.resolved_database_url) as database:
            with session_scope(database.sessions) as session:
                register_model(
                    session, path=everything, meta=meta, name="bench-page", activate=True
                )
                session.execute(Paper.__table__.insert(), papers)
                session.add(
                    IngestRun(
                        day=DAY,
                        status="success",
                        fetched=len(papers),
                        new=len(papers),
                        finished_at=dt.datetime.now(dt.timezone.utc),
                    )
                )
            holder = ModelHolder(database.sessions, device="cpu", batch_size=64)
            loaded = holder.get()
            assert loaded is not None, "the bench model did not load"
            score_pending(database.sessions, loaded, days=[DAY])
            # The page's biggest part apart from the template: the reasons of every card.
            reasons_runs = []
            with database.sessions() as session:
                stored = list(session.scalars(select(Paper).where(Paper.submitted_on == DAY)))
                for _ in range(args.runs):
                    start = time.perf_counter()
                    reasons_for(session, loaded, stored)
                    reasons_runs.append(time.perf_counter() - start)

        formulas = sum(
            1
            for p in papers
            for text in (p["title"], p["abstract"])
            for m in latex._SPANS.finditer(str(text))
            if not m["escaped"]
        )
        url = f"/?date={DAY}"
        with TestClient(create_app(settings), base_url="http://localhost") as client:
            first, runs, size = timed_renders(client, url, args.runs)
            _, cold_runs, _ = timed_renders(client, url, args.runs, cold_math=True)
            page = client.get(url).text
            cards, maths = page.count('data-paper-id="'), page.count("<math ")
            reasons = page.count('class="why"')
            filters = TEMPLATES.env.filters
            filters["with_math"] = lambda text, links=False: Markup(escape(text or ""))
            try:
                _, plain_runs, _ = timed_renders(client, url, args.runs)
            finally:
                filters["with_math"] = latex.with_math
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"{DAY}: {cards} cards, {reasons} with reasons, {maths} <math> elements "
        f"({formulas} TeX spans in {sum('$' in str(p['abstract']) for p in papers)} abstracts), "
        f"page {size / 1024:.0f} KiB"
    )
    print("| render of / | median s | min s | max s |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| first (the model loaded, no formula cached) | {first:.3f} | | |")
    print(
        f"| next {len(runs)} | {statistics.median(runs):.3f} | {min(runs):.3f} | {max(runs):.3f} |"
    )
    print(
        f"| next {len(cold_runs)}, every formula converted afresh | "
        f"{statistics.median(cold_runs):.3f} | {min(cold_runs):.3f} | {max(cold_runs):.3f} |"
    )
    print(
        f"| next {len(plain_runs)}, math filter replaced by escaping | "
        f"{statistics.median(plain_runs):.3f} | {min(plain_runs):.3f} | {max(plain_runs):.3f} |"
    )
    print(
        f"| `reasons_for` alone, the {len(papers)} papers ({len(reasons_runs)} runs) | "
        f"{statistics.median(reasons_runs):.3f} | {min(reasons_runs):.3f} | "
        f"{max(reasons_runs):.3f} |"
    )


if __name__ == "__main__":
    main()
