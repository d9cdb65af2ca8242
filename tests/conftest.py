from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, migrate
from app.ingest.standin import ArxivStandIn, catalog_from_listings
from app.main import create_app
from app.ml.artifact import ModelMeta
from app.ml.predictor import load_predictor, score_papers
from app.ml.serving import ModelHolder
from tests.factories import with_metadata
from tests.utils.tiny_model import save_tiny_classifier
from training import TrainConfig, load_labelled_csv, train

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).parent / "fixtures"
LISTINGS = FIXTURES / "listings"
LABELS_CSV = FIXTURES / "labels_sample.csv"


@pytest.fixture
def standin() -> Iterator[ArxivStandIn]:
    with ArxivStandIn(catalog_from_listings(LISTINGS), timeout_delay=1.5) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, standin: ArxivStandIn) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        arxiv_api_url=standin.url,
        request_delay_seconds=0,
        request_timeout_seconds=0.5,
        retries=3,
        retry_backoff_seconds=0.01,
        scheduler_enabled=False,
        page_size=25,
        # Jobs run in a thread here, so a test sees its failures; test_scheduler.py runs the
        # service's child process once.
        job_process=False,
        _env_file=None,
    )


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    migrate(settings.resolved_database_url)
    return make_session_factory(make_engine(settings.resolved_database_url))


def _fixture_texts() -> list[str]:
    frame = pd.read_csv(LABELS_CSV)
    return (frame["title"] + "\n" + frame["abstract"]).tolist()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ModernBERT classifier whose threshold splits the fixture abstracts in half."""
    directory = tmp_path_factory.mktemp("tiny-modernbert")
    save_tiny_classifier(_fixture_texts(), directory)
    ModelMeta(method="finetune", threshold=0.5, max_length=512, base_model="tiny").save(directory)
    frame = pd.read_csv(LABELS_CSV)
    probabilities = score_papers(
        load_predictor(directory), list(zip(frame.title, frame.abstract, strict=True))
    )
    ModelMeta(
        method="finetune",
        threshold=float(np.median(probabilities)),
        max_length=512,
        base_model="tiny",
        metrics={"test": {"average_precision": 0.1}},
    ).save(directory)
    return directory


@pytest.fixture(scope="session")
def tfidf_meta_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tfidf model that reads authors and comments, trained on the fixture labels with
    metadata that carries part of the label (tests.factories.with_metadata)."""
    directory = tmp_path_factory.mktemp("tfidf-meta") / "model"
    config = TrainConfig(
        output=str(directory),
        data=str(LABELS_CSV),
        method="tfidf",
        c_grid=[1.0],
        no_register=True,
        progress=False,
    )
    train(config, frame=with_metadata(load_labelled_csv(LABELS_CSV)), source="with_metadata")
    return directory


@pytest.fixture
def holder(sessions: sessionmaker[Session], settings: Settings) -> ModelHolder:
    return ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
