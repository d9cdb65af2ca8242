"""Score any labelled CSV with a trained model, through the service's own loader."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.ml.predictor import load_predictor, score_papers
from training.data import load_labelled_csv
from training.metrics import split_metrics

logger = logging.getLogger(__name__)


def evaluate(
    model_path: str | Path,
    data_path: str | Path,
    *,
    device: str = "auto",
    batch_size: int = 16,
    progress: bool = True,
) -> dict[str, Any]:
    """The training report's metrics for ``data_path`` at the model's own threshold."""
    frame = load_labelled_csv(data_path)
    predictor = load_predictor(model_path, device=device, batch_size=batch_size)
    scores = score_papers(
        predictor, list(zip(frame["title"], frame["abstract"], strict=True)), progress=progress
    )
    days = int(frame["submission_date"].dt.normalize().nunique())
    return split_metrics(
        frame["interest"].to_numpy(), scores, threshold=predictor.meta.threshold, days=days
    )
