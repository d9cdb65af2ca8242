"""Score any labelled CSV with a trained model, through the service's own loader."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from training.inference.layout import load_labelled_csv, paper_inputs
from training.inference.predictor import load_predictor, score_papers
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
    """The training report's metrics for ``data_path`` at the model's own threshold; the CSV's
    metadata columns (authors, comment) are read when the model uses them."""
    frame = load_labelled_csv(data_path)
    predictor = load_predictor(model_path, device=device, batch_size=batch_size)
    scores = score_papers(predictor, paper_inputs(frame), progress=progress)
    days = int(frame["submission_date"].dt.normalize().nunique())
    return split_metrics(
        frame["interest"].to_numpy(), scores, threshold=predictor.meta.threshold, days=days
    )
