"""The split is by date: the past trains, the newest rows only test."""

from __future__ import annotations

import pandas as pd
import pytest

from training.inference.layout import DataError
from training.split import split_by_date


def test_default_split_is_60_20_20_and_ordered_by_date(sample_frame: pd.DataFrame) -> None:
    shuffled = sample_frame.sample(frac=1.0, random_state=3)
    split = split_by_date(shuffled)
    assert (len(split.train), len(split.validation), len(split.test)) == (180, 60, 60)
    assert split.train["submission_date"].max() <= split.validation["submission_date"].min()
    assert split.validation["submission_date"].max() <= split.test["submission_date"].min()
    all_ids = set(split.train.paper_id) | set(split.validation.paper_id) | set(split.test.paper_id)
    assert len(all_ids) == 300


def test_ties_keep_input_order(sample_frame: pd.DataFrame) -> None:
    """Stable: rows of one day stay in file order, so the same file always splits the same way."""
    split = split_by_date(sample_frame)
    ordered = pd.concat([split.train, split.validation, split.test])
    assert list(ordered["line"]) == list(sample_frame["line"])  # the sample is sorted by date


def test_fractions_are_configurable(sample_frame: pd.DataFrame) -> None:
    split = split_by_date(sample_frame, val_fraction=0.1, test_fraction=0.3)
    assert (len(split.train), len(split.validation), len(split.test)) == (180, 30, 90)
    info = split.info()
    assert info["test"]["last_date"] == "2025-05-09"
    assert info["train"]["first_date"] == "2025-03-18"
    assert sum(part["positives"] for part in info.values()) == 60


def test_too_few_positives_name_the_split(sample_frame: pd.DataFrame) -> None:
    frame = sample_frame.copy()
    newest = frame["submission_date"] >= frame["submission_date"].quantile(0.75)
    frame.loc[newest, "interest"] = 0
    with pytest.raises(
        DataError,
        match=r"too few positives for the split: the test split \(60 rows, 2025-0\d-\d\d to "
        r"2025-05-09\) has 0 positive and 60 negative rows; each split needs at least 2",
    ):
        split_by_date(frame)


def test_too_few_rows(sample_frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"2 rows are too few to split 60%/20%/20%"):
        split_by_date(sample_frame.head(2))
