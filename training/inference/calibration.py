"""Calibrated probabilities: a model's raw score mapped to how often such papers were interesting.

A class-weighted classifier's raw "probability" is not one: balancing the classes pushes every
paper towards 50%, so the page read like a coin flip. Platt scaling (a logistic regression on the
raw score's logit) is fit on the *validation* split only (``training.calibrate``), recorded in
the model directory, and applied by the one scoring path
(``training.inference.predictor.score_papers``), so a paper at 70% was interesting about 7 times
out of 10 in validation. It is monotone: rankings do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PLATT = "platt"
_EPSILON = 1e-6


def logit(scores: Any) -> np.ndarray:
    clipped = np.clip(np.asarray(scores, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(clipped / (1 - clipped))


@dataclass(frozen=True)
class Calibration:
    """``p = sigmoid(slope * logit(raw) + intercept)``, fit on ``rows`` validation rows."""

    method: str
    slope: float
    intercept: float
    fit_on: str
    rows: int
    positives: int

    def apply(self, raw: Any) -> np.ndarray:
        z = self.slope * logit(raw) + self.intercept
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "slope": self.slope,
            "intercept": self.intercept,
            "fit_on": self.fit_on,
            "rows": self.rows,
            "positives": self.positives,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        if data.get("method") != PLATT:
            raise ValueError(f"unknown calibration method {data.get('method')!r}; expected platt")
        return cls(
            method=PLATT,
            slope=float(data["slope"]),
            intercept=float(data["intercept"]),
            fit_on=str(data.get("fit_on", "validation")),
            rows=int(data.get("rows", 0)),
            positives=int(data.get("positives", 0)),
        )
