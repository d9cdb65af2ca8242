"""Logistic regression with C chosen on validation average precision (tfidf and embed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

logger = logging.getLogger(__name__)


def choose_c(
    c_grid: Sequence[float],
    make: Callable[[float], Any],
    train_x: Any,
    train_y: np.ndarray,
    val_x: Any,
    val_y: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> tuple[Any, float, dict[str, float]]:
    """Fit one model per C on train, keep the one with the best validation AP."""
    best_model: Any = None
    best_c, best_ap = float(c_grid[0]), -1.0
    by_c: dict[str, float] = {}
    for c in c_grid:
        model = make(float(c))
        model.fit(train_x, train_y, sample_weight=sample_weight)
        ap = float(average_precision_score(val_y, model.predict_proba(val_x)[:, 1]))
        by_c[f"{c:g}"] = ap
        logger.info("C=%g: validation AP %.4f", c, ap)
        if ap > best_ap:
            best_model, best_c, best_ap = model, float(c), ap
    logger.info("chose C=%g (validation AP %.4f)", best_c, best_ap)
    return best_model, best_c, by_c


def recency_weights(dates: Any, half_life_days: float | None) -> np.ndarray | None:
    """A label's weight halves every ``half_life_days`` before the newest label (None: all 1),
    so a reader's taste as it is now counts more than as it was months ago."""
    if half_life_days is None:
        return None
    days = np.asarray(
        [(d.normalize() - max(dates).normalize()).days for d in dates], dtype=np.float64
    )
    return np.power(0.5, -days / half_life_days)
