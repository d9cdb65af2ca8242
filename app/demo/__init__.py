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
from app.core.db import make_engine, make_session_factory, migrate, session_scope
from app.ingest.service import IngestReport, ingest_day
from app.ingest.standin import ArxivStandIn, catalog_from_listings, listing_files
from app.labels import import_labels_csv
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
    started = time.perf_counter()
    url = settings.resolved_database_url
    migrate(url)
    sessions = make_session_factory(make_engine(url))
    with session_scope(sessions) as session:
        imported = import_labels_csv(session, LABELS)
    model_dir = settings.resolved_model_dir / "demo-tfidf"
    result = train(
        TrainConfig(
            output=str(model_dir),
            from_db=True,
            method="tfidf",
            database_url=url,
            activate=True,
            overwrite=True,
            name="demo-tfidf",
            progress=False,
        )
    )
    holder = ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)
    reports = []
    with ArxivStandIn(catalog_from_listings(LISTINGS)) as standin:
        replay = settings.model_copy(
            update={"arxiv_api_url": standin.url, "request_delay_seconds": 0.0}
        )
        for day in listing_files(LISTINGS):
            reports.append(ingest_day(sessions, day, replay, model=holder.get, trigger="demo"))
    return DemoReport(
        labels=imported.rows,
        model_name=result.meta.info.get("name", model_dir.name),
        test_average_precision=result.metrics["test"]["average_precision"],
        days=reports,
        seconds=time.perf_counter() - started,
    )
