"""Fitting a Platt calibration; applying it is ``training.inference.calibration``."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from training.inference.calibration import PLATT, Calibration, logit


def fit_platt(raw: Any, labels: Any, *, fit_on: str = "validation") -> Calibration:
    """Platt scaling of raw scores against their labels (both classes needed).

    A slope that is not positive would reverse the ranking: the scores carry no usable signal on
    these rows, so the calibration keeps the order (slope 1) and only shifts to the base rate.
    """
    y = np.asarray(labels, dtype=int)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration needs both interesting and uninteresting papers")
    x = logit(raw).reshape(-1, 1)
    # Nearly unregularised: two parameters on a few hundred rows.
    model = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
    slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
    if slope <= 0:
        base = float(y.mean())
        slope, intercept = 1.0, float(np.log(base / (1 - base)) - np.median(x))
    return Calibration(
        method=PLATT,
        slope=slope,
        intercept=intercept,
        fit_on=fit_on,
        rows=int(len(y)),
        positives=int(y.sum()),
    )
