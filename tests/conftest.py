from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import Database, migrate
from app.demo.standin import ArxivStandIn, catalog_from_listings
from app.main import create_app
from app.serving.holder import ModelHolder, ModelHolders
from bench.tiny import save_tiny_classifier
from tests.factories import local_client, with_metadata
from training.config import TrainConfig
from training.inference.artifact import ModelMeta
from training.inference.layout import load_labelled_csv
from training.inference.predictor import load_predictor, score_papers
from training.train import train

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).parent / "fixtures"
LISTINGS = FIXTURES / "listings"
LABELS_CSV = FIXTURES / "labels_sample.csv"

# A PostgreSQL server the tests may create databases on, e.g.
# postgresql+psycopg://postgres@127.0.0.1:5432/postgres (.ci/run starts one and sets it).
POSTGRES_URL_ENV = "ARXIV_RECO_TEST_POSTGRES_URL"
# One migrated template per test session; its own name, so two runs on one server never meet.
POSTGRES_TEMPLATE = f"arxiv_reco_template_{uuid.uuid4().hex[:8]}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: tests SQLite-specific behaviour; not run on PostgreSQL"
    )
    config.addinivalue_line("markers", "postgresql: runs against a PostgreSQL server")


def _admin_execute(server_url: str, *statements: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """The server URL, with a migrated template database that each test's database copies."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        yield None
        return
    _admin_execute(url, f"DROP DATABASE IF EXISTS {POSTGRES_TEMPLATE} WITH (FORCE)")
    _admin_execute(url, f"CREATE DATABASE {POSTGRES_TEMPLATE}")
    migrate(make_url(url).set(database=POSTGRES_TEMPLATE).render_as_string(hide_password=False))
    yield url
    _admin_execute(url, f"DROP DATABASE IF EXISTS {POSTGRES_TEMPLATE} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each database-facing test runs on SQLite and, where a server is given, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'arxiv_reco.db'}"
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("tests SQLite-specific behaviour")
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL_ENV} (.ci/run starts one)")
    name = f"arxiv_reco_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(server, f"CREATE DATABASE {name} TEMPLATE {POSTGRES_TEMPLATE}")
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    _admin_execute(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def standin() -> Iterator[ArxivStandIn]:
    with ArxivStandIn(catalog_from_listings(LISTINGS), timeout_delay=1.5) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, standin: ArxivStandIn, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
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
def database(settings: Settings) -> Iterator[Database]:
    with Database(settings.resolved_database_url) as database:
        yield database


@pytest.fixture
def sessions(database: Database) -> sessionmaker[Session]:
    return database.sessions


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
        output=str(directory), data=str(LABELS_CSV), method="tfidf", c_grid=[1.0], progress=False
    )
    train(config, frame=with_metadata(load_labelled_csv(LABELS_CSV)), source="with_metadata")
    return directory


@pytest.fixture
def holder(sessions: sessionmaker[Session], settings: Settings) -> ModelHolder:
    return ModelHolder(sessions, device="cpu", batch_size=settings.score_batch_size)


@pytest.fixture
def holders(
    sessions: sessionmaker[Session], settings: Settings, holder: ModelHolder
) -> ModelHolders:
    """Every topic's holder; the default topic's is ``holder``."""
    return ModelHolders(sessions, settings, default=holder)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with local_client(create_app(settings)) as test_client:
        yield test_client
