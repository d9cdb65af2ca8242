"""`arxiv-reco demo`: the whole product, offline, on a small bundled sample of real papers.

It imports the sample labels (every paper of eight listing days, as a reader who labelled each
day has them), trains the ``tfidf`` model through the service's own retrain (the same recipe,
threshold and calibration as any retrain), replays real listing days through the real ingestion
code against the local arXiv stand-in, and serves the page.

Imports the rooms below it (core, store, serving, jobs) and ``training.inference``; only the
command line imports it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.config import Settings
from app.core.db import Database
from app.jobs.ingest import IngestReport, ingest_day
from app.jobs.retrain import retrain
from app.jobs.scheduler import DailyJob
from app.serving.holder import ModelHolder
from app.store.labels import import_labels_csv
from app.store.schema import ModelVersion
from training.inference.artifact import ModelMeta

logger = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
LABELS = DATA / "labels.csv"
LISTINGS = DATA / "listings"
DEMO_RETRAIN = "the demo's retrain"
DEMO_WAIT_SECONDS = 600


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
    holder = ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)
    # The service's retrain, under the job's lock like every retrain: what the demo shows is
    # what a reader's own labels would give. A job already running (a served demo re-scoring
    # with its model) is waited for, as the page's retrain waits, not refused.
    with DailyJob(sessions, settings, holder).held(DEMO_RETRAIN, wait=DEMO_WAIT_SECONDS):
        outcome = retrain(sessions, settings, method="tfidf", trigger="demo")
    with sessions() as session:
        model_dir = Path(session.get_one(ModelVersion, outcome.version_id).path)
    metrics = ModelMeta.load(model_dir).metrics
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
        model_name=outcome.name,
        test_average_precision=(metrics.get("test") or {}).get("average_precision"),
        days=reports,
        seconds=time.perf_counter() - started,
    )
