"""Metrics and the decision threshold. The threshold is chosen from validation scores only."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

logger = logging.getLogger(__name__)


def _as_arrays(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    return y, s


def best_f1_threshold(labels: Any, scores: Any) -> tuple[float, float]:
    """(threshold, F1) maximising F1 for ``score >= threshold`` on these labels."""
    y, s = _as_arrays(labels, scores)
    precision, recall, thresholds = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def choose_threshold(
    labels: Any,
    scores: Any,
    *,
    strategy: str = "f1",
    target: float | None = None,
    days: int = 1,
) -> tuple[float, str]:
    """Pick the decision threshold from *validation* labels and scores.

    Returns the threshold and a sentence that says how it was chosen, for the model card.
    """
    y, s = _as_arrays(labels, scores)
    if strategy == "f1":
        threshold, f1 = best_f1_threshold(y, s)
        return threshold, f"best F1 on validation ({f1:.3f})"
    if target is None:
        raise ValueError(f"threshold strategy {strategy!r} needs a target")
    if strategy == "per_day":
        wanted = max(1, min(len(s), int(round(target * days))))
        threshold = float(np.sort(s)[::-1][wanted - 1])
        return threshold, f"about {target:g} recommended papers a day on validation ({days} days)"
    precision, recall, thresholds = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]
    if strategy == "precision":
        # The lowest threshold (most recall) whose precision reaches the target.
        ok = np.flatnonzero(precision >= target)
        if ok.size == 0:
            best = int(np.argmax(precision))
            logger.warning(
                "no threshold reaches precision %.3f on validation; using the most precise one "
                "(precision %.3f)",
                target,
                precision[best],
            )
            return float(thresholds[best]), (
                f"target precision {target:g} not reachable on validation; "
                f"most precise threshold (precision {precision[best]:.3f})"
            )
        index = int(ok[0])
        return float(thresholds[index]), (
            f"lowest threshold with precision >= {target:g} on validation "
            f"(recall {recall[index]:.3f})"
        )
    if strategy == "recall":
        # The highest threshold (most precision) whose recall still reaches the target.
        ok = np.flatnonzero(recall >= target)
        index = int(ok[-1])  # recall is 1.0 at the lowest threshold, so ok is never empty
        return float(thresholds[index]), (
            f"highest threshold with recall >= {target:g} on validation "
            f"(precision {precision[index]:.3f})"
        )
    raise ValueError(f"unknown threshold strategy {strategy!r}")


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def split_metrics(labels: Any, scores: Any, *, threshold: float, days: int) -> dict[str, Any]:
    """Everything reported for one split at the chosen threshold."""
    y, s = _as_arrays(labels, scores)
    predicted = s >= threshold
    true_positives = int((predicted & (y == 1)).sum())
    predicted_positives = int(predicted.sum())
    positives = int(y.sum())
    precision = true_positives / predicted_positives if predicted_positives else 0.0
    recall = true_positives / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both_classes = 0 < positives < len(y)
    best_threshold, best_f1 = best_f1_threshold(y, s) if both_classes else (math.nan, math.nan)
    return {
        "rows": len(y),
        "positives": positives,
        "days": days,
        "average_precision": _finite(average_precision_score(y, s)) if both_classes else None,
        "roc_auc": _finite(roc_auc_score(y, s)) if both_classes else None,
        "threshold": float(threshold),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "predicted_positives": predicted_positives,
        "recommended_per_day": predicted_positives / days if days else None,
        # Chosen on the very labels it is measured on: only to compare with the notebook's 0.497.
        "optimistic_best_f1": _finite(best_f1),
        "optimistic_best_f1_threshold": _finite(best_threshold),
    }
