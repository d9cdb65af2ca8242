"""Early or measured: whether the labels can hold a date split yet, and what more they need.

Kept apart from the fitting code, so the service can tell the reader where they stand without
loading the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from training.inference.layout import DataError
from training.split import split_by_date

EARLY, MEASURED = "early", "measured"
# The measured regime needs these many explicit labels of each kind, and a date split that holds
# MIN_POSITIVES interesting papers in each of train, validation and test. With fewer, a measured
# model is worth less than the early one: on the shared benchmark's last 16 days (random labels,
# 3 seeds; bench/README.md, "When a model is measured"), it ranked level at 15/30 and 30/60 (✓/✕)
# and worse at 20/40 (AP 0.258 against 0.291), with a threshold a split of a few interesting
# papers chose badly (13 to 44 papers a day at 16-30% precision, against the early model's 8 at
# 34-37%), and overtook it at 40/80 (AP 0.344 against 0.335, P@10 0.329 against 0.308).
MEASURED_MIN_POSITIVES = 40
MEASURED_MIN_NEGATIVES = 80


@dataclass(frozen=True)
class Readiness:
    """How far the explicit labels are from a measured model, in words a reader can act on."""

    regime: str  # EARLY or MEASURED
    positives: int
    negatives: int
    positives_needed: int
    negatives_needed: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "regime": self.regime,
            "positives": self.positives,
            "negatives": self.negatives,
            "positives_needed": self.positives_needed,
            "negatives_needed": self.negatives_needed,
            "message": self.message,
        }


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def readiness(frame: pd.DataFrame, *, val_fraction: float, test_fraction: float) -> Readiness:
    """Early or measured, and what more the labels need: a measured model wants
    MEASURED_MIN_POSITIVES ✓ and MEASURED_MIN_NEGATIVES ✕, spread over days so that the date
    split holds interesting papers in each part."""
    positives = int(frame["interest"].sum()) if len(frame) else 0
    negatives = len(frame) - positives
    more_pos = max(0, MEASURED_MIN_POSITIVES - positives)
    more_neg = max(0, MEASURED_MIN_NEGATIVES - negatives)
    if more_pos or more_neg:
        wanted = " and ".join(
            part
            for part in (
                _plural(more_pos, "more interesting paper (✓)", "more interesting papers (✓)")
                if more_pos
                else "",
                _plural(more_neg, "more “not for me” (✕)", "more “not for me” (✕)")
                if more_neg
                else "",
            )
            if part
        )
        return Readiness(
            EARLY,
            positives,
            negatives,
            more_pos,
            more_neg,
            f"an early model, from {_plural(positives, 'interesting paper', 'interesting papers')}"
            f" and {_plural(negatives, '“not for me”', '“not for me”')}: {wanted} make a "
            "measured one",
        )
    try:
        split_by_date(frame, val_fraction=val_fraction, test_fraction=test_fraction)
    except DataError:
        return Readiness(
            EARLY,
            positives,
            negatives,
            1,
            0,
            "an early model: the labels are enough in number, but the newest ones hold too few "
            "interesting papers to measure a model on; mark a few interesting papers of recent "
            "days",
        )
    return Readiness(MEASURED, positives, negatives, 0, 0, "a measured model")
