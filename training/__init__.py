"""Training: labelled papers in, a model directory the service can serve out."""

from __future__ import annotations

from training.config import ConfigError, TrainConfig
from training.data import DataError, load_labelled_csv, load_labels_from_db
from training.train import TrainResult, train

__all__ = [
    "ConfigError",
    "DataError",
    "TrainConfig",
    "TrainResult",
    "load_labelled_csv",
    "load_labels_from_db",
    "train",
]
