"""Fixtures for the training tests: the labelled sample, CSV writers, a tiny encoder, a database."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.tiny import save_tiny_base
from training.config import TrainConfig
from training.inference.layout import COLUMNS, load_labelled_csv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLE_CSV = FIXTURES / "labels_sample.csv"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the model hub; a missing local model must fail, not download."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    return SAMPLE_CSV


@pytest.fixture(scope="session")
def sample_rows() -> list[dict[str, str]]:
    with SAMPLE_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def sample_frame(sample_csv: Path) -> pd.DataFrame:
    return load_labelled_csv(sample_csv)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write rows (dicts) as a labelled CSV; ``columns`` overrides the header."""

    def write(
        rows: list[dict[str, Any]], name: str = "labels.csv", columns: list[str] | None = None
    ) -> Path:
        path = tmp_path / name
        header = columns or list(COLUMNS)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, sample_rows: list[dict[str, str]]) -> Path:
    """A tiny ModernBERT encoder with a tokenizer trained on the sample: the stand-in base model."""
    texts = [f"{row['title']}\n{row['abstract']}" for row in sample_rows]
    return save_tiny_base(texts, tmp_path_factory.mktemp("tiny-modernbert"))


@pytest.fixture
def make_config(tmp_path: Path, sample_csv: Path) -> Callable[..., TrainConfig]:
    """A fast TrainConfig on the sample CSV."""

    def make(**overrides: Any) -> TrainConfig:
        values: dict[str, Any] = {
            "data": str(sample_csv),
            "output": str(tmp_path / "models" / overrides.get("method", "tfidf")),
            "method": "tfidf",
            "progress": False,
            "c_grid": [1.0],
        }
        values.update(overrides)
        return TrainConfig(**values)

    return make


def tiny_finetune_settings(base: Path) -> dict[str, Any]:
    return {
        "method": "finetune",
        "base_model": str(base),
        "max_length": 64,
        "batch_size": 8,
        "eval_batch_size": 32,
        "max_steps": 4,
        "eval_steps": 2,
        "learning_rate": 1e-3,
        "warmup_ratio": 0.0,
    }
