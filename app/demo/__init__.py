"""`arxiv-reco demo`: the whole product, offline, on a small bundled sample of real papers.

It imports the sample labels, trains the ``tfidf`` model, replays real listing days through the
real ingestion code against the local arXiv stand-in, and serves the page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.config import Settings
from app.core.db import Database
from app.ingest.service import IngestReport, ingest_day
from app.labels import import_labels_csv, load_labels
from app.ml.registry import register_trained
from app.ml.serving import ModelHolder
from training.config import TrainConfig
from training.train import train

logger = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
LABELS = DATA / "labels.csv"
LISTINGS = DATA / "listings"


@dataclass
class DemoReport:
    labels: int
    model_name: str
    test_average_precision: float | None
    days: list[IngestReport]
    seconds: float


def prepare_demo(settings: Settings) -> DemoReport:
    """Build the demo's database and model under ``settings.data_dir``; safe to run again."""
    # Imported here, so that `python -m app.demo.standin` runs the module only once.
    from app.demo.standin import ArxivStandIn, catalog_from_listings, listing_files

    started = time.perf_counter()
    database = Database(settings.resolved_database_url)
    sessions = database.sessions
    with database.session() as session:
        imported = import_labels_csv(session, LABELS)
    with sessions() as session:
        frame = load_labels(session)
    model_dir = settings.resolved_model_dir / "demo-tfidf"
    result = train(
        TrainConfig(output=str(model_dir), method="tfidf", overwrite=True, progress=False),
        frame=frame,
        source="the demo's labels",
        name="demo-tfidf",
    )
    register_trained(sessions, result.path, result.meta, name="demo-tfidf", activate=True)
    holder = ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)
    reports = []
    with ArxivStandIn(catalog_from_listings(LISTINGS)) as standin:
        replay = settings.model_copy(
            update={"arxiv_api_url": standin.url, "request_delay_seconds": 0.0}
        )
        for day in listing_files(LISTINGS):
            reports.append(
                ingest_day(sessions, day, replay, model=holder.for_scoring, trigger="demo")
            )
    database.dispose()
    return DemoReport(
        labels=imported.rows,
        model_name=result.meta.info.get("name", model_dir.name),
        test_average_precision=result.metrics["test"]["average_precision"],
        days=reports,
        seconds=time.perf_counter() - started,
    )
