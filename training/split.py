"""Split by date: the past trains, the next stretch chooses, the newest rows only report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from training.inference.layout import DataError

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
MIN_POSITIVES = 2  # per split: fewer and neither a threshold nor a test score means anything


@dataclass
class DateSplit:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def info(self) -> dict[str, Any]:
        return {name: describe(part) for name, part in self.parts().items()}


def describe(part: pd.DataFrame) -> dict[str, Any]:
    days = part["submission_date"].dt.normalize()
    return {
        "rows": len(part),
        "positives": int(part["interest"].sum()),
        "first_date": str(days.min().date()),
        "last_date": str(days.max().date()),
        "days": int(days.nunique()),
    }


def split_by_date(
    frame: pd.DataFrame, *, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> DateSplit:
    """Sort by ``submission_date`` (stable) and cut by position: 60/20/20 by default.

    Cutting by position, not by whole days, is the benchmark protocol; a day that straddles a
    boundary is reported in the log.
    """
    ordered = frame.sort_values("submission_date", kind="stable").reset_index(drop=True)
    total = len(ordered)
    n_test = int(round(total * test_fraction))
    n_val = int(round(total * val_fraction))
    n_train = total - n_val - n_test
    if min(n_train, n_val, n_test) < 1:
        raise DataError(
            f"{total} rows are too few to split {1 - val_fraction - test_fraction:.0%}/"
            f"{val_fraction:.0%}/{test_fraction:.0%} into train/validation/test"
        )
    split = DateSplit(
        train=ordered.iloc[:n_train].reset_index(drop=True),
        validation=ordered.iloc[n_train : n_train + n_val].reset_index(drop=True),
        test=ordered.iloc[n_train + n_val :].reset_index(drop=True),
    )
    for name, part in split.parts().items():
        positives = int(part["interest"].sum())
        negatives = len(part) - positives
        if positives < MIN_POSITIVES or negatives < 1:
            info = describe(part)
            raise DataError(
                f"too few positives for the split: the {name} split ({info['rows']} rows, "
                f"{info['first_date']} to {info['last_date']}) has {positives} positive and "
                f"{negatives} negative rows; each split needs at least {MIN_POSITIVES} positives "
                f"and one negative. Label more papers or change --val-fraction/--test-fraction"
            )
    for left, right in (("train", "validation"), ("validation", "test")):
        last = split.parts()[left]["submission_date"].max()
        first = split.parts()[right]["submission_date"].min()
        if last == first:
            logger.info("the day %s is shared by the %s and %s splits", last.date(), left, right)
    for name, info in split.info().items():
        logger.info(
            "%-10s %5d rows, %4d positive, %s to %s (%d days)",
            name,
            info["rows"],
            info["positives"],
            info["first_date"],
            info["last_date"],
            info["days"],
        )
    return split
