"""Data checks: each problem is an error that names the rows or values at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from training.inference.artifact import PaperInput
from training.inference.layout import (
    DataError,
    data_hash,
    load_labelled_csv,
    paper_inputs,
)


def _rows(sample_rows: list[dict[str, str]], n: int = 40) -> list[dict[str, str]]:
    return [dict(row) for row in sample_rows[:n]]


def test_sample_loads_with_types(sample_csv: Path) -> None:
    frame = load_labelled_csv(sample_csv)
    assert len(frame) == 300
    assert frame["interest"].sum() == 60
    assert str(frame["submission_date"].dt.tz) == "UTC"
    assert frame["line"].iloc[0] == 2  # the header is line 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"labelled CSV .*nope\.csv does not exist"):
        load_labelled_csv(tmp_path / "nope.csv")


def test_missing_columns_are_named(write_csv: Callable[..., Path], sample_rows) -> None:
    columns = ["paper_id", "title", "abstract", "categories", "submission_date"]
    path = write_csv(_rows(sample_rows), columns=columns)
    with pytest.raises(DataError, match=r"but \['interest'\] are missing \(found \['paper_id'"):
        load_labelled_csv(path)


def test_unparsable_dates_name_lines_and_values(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    rows[1]["submission_date"] = "not-a-date"
    rows[5]["submission_date"] = "2025-13-45"
    with pytest.raises(
        DataError,
        match=r"unparsable submission_date in 2 rows .*"
        r"line 3 \('not-a-date'\), line 7 \('2025-13-45'\)",
    ):
        load_labelled_csv(write_csv(rows))


def test_labels_other_than_0_1(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    rows[0]["interest"] = "yes"
    rows[3]["interest"] = "2"
    rows[4]["interest"] = ""
    with pytest.raises(
        DataError,
        match=r"interest must be 0 or 1; 3 rows have other values: line 2 \('yes'\), "
        r"line 5 \('2'\), line 6 \(''\)",
    ):
        load_labelled_csv(write_csv(rows))


def test_empty_abstract(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    rows[2]["abstract"] = "   "
    with pytest.raises(
        DataError, match=rf"empty abstract in 1 rows: line 4 \({rows[2]['paper_id']}\)"
    ):
        load_labelled_csv(write_csv(rows))


def test_empty_paper_id(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    rows[7]["paper_id"] = ""
    with pytest.raises(DataError, match=r"empty paper_id in 1 rows \(lines 9\)"):
        load_labelled_csv(write_csv(rows))


def test_duplicate_ids_name_id_and_lines(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    rows[9]["paper_id"] = rows[0]["paper_id"]
    with pytest.raises(
        DataError, match=rf"duplicate paper_id values.*{rows[0]['paper_id']} \(lines 2, 11\)"
    ):
        load_labelled_csv(write_csv(rows))


def test_single_class(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    for row in rows:
        row["interest"] = "0"
    with pytest.raises(DataError, match=r"only one class: all 40 rows have interest=0"):
        load_labelled_csv(write_csv(rows))


def test_long_lists_are_shortened(write_csv, sample_rows) -> None:
    rows = _rows(sample_rows)
    for row in rows[:8]:
        row["interest"] = "x"
    with pytest.raises(DataError, match=r"8 rows have other values: .*line 6 \('x'\) and 3 more"):
        load_labelled_csv(write_csv(rows))


def test_extra_columns_are_ignored_and_logged(write_csv, sample_rows, caplog) -> None:
    rows = _rows(sample_rows)
    for row in rows:
        row["note"] = "x"
    path = write_csv(rows, columns=[*rows[0].keys()])
    with caplog.at_level("INFO"):
        frame = load_labelled_csv(path)
    assert "note" not in frame.columns
    assert "ignoring extra columns ['note']" in caplog.text


def test_optional_authors_and_comment_columns_are_read(write_csv, sample_rows, caplog) -> None:
    rows = _rows(sample_rows)
    rows[0]["authors"] = " Ada Lovelace ;Alan Turing; "
    rows[0]["comment"] = "  12 pages, code at github "
    columns = [*rows[1].keys(), "authors", "comment", "note"]
    with caplog.at_level("INFO"):
        frame = load_labelled_csv(write_csv(rows, columns=columns))
    assert "ignoring extra columns ['note']" in caplog.text
    assert (frame.loc[0, "authors"], frame.loc[1, "authors"]) == ("Ada Lovelace; Alan Turing", "")
    first, second = paper_inputs(frame)[:2]
    assert first.authors == ("Ada Lovelace", "Alan Turing")
    assert first.comment == "12 pages, code at github"
    assert first.categories == tuple(c.strip() for c in rows[0]["categories"].split(","))
    assert (second.authors, second.comment) == ((), None)


def test_a_csv_without_metadata_reads_as_empty_metadata(sample_frame: pd.DataFrame) -> None:
    assert set(sample_frame["authors"]) == set(sample_frame["comment"]) == {""}
    first = paper_inputs(sample_frame)[0]
    assert isinstance(first, PaperInput) and (first.authors, first.comment) == ((), None)


def test_data_hash_counts_metadata_only_when_there_is_some(sample_frame: pd.DataFrame) -> None:
    without = sample_frame.drop(columns=["authors", "comment"])
    assert data_hash(sample_frame) == data_hash(without)
    with_authors = sample_frame.copy()
    with_authors.loc[0, "authors"] = "Ada Lovelace"
    assert data_hash(with_authors) != data_hash(sample_frame)


def test_data_hash_changes_with_a_label(sample_frame: pd.DataFrame) -> None:
    flipped = sample_frame.copy()
    flipped.loc[0, "interest"] = 1 - flipped.loc[0, "interest"]
    assert data_hash(sample_frame) == data_hash(sample_frame.copy())
    assert data_hash(sample_frame) != data_hash(flipped)


def test_a_csv_of_several_topics_is_refused_for_training_one_topic_is_taken(tmp_path):
    header = "paper_id,title,abstract,categories,submission_date,interest,topic\n"
    rows = [
        "2601.00001,T,A,cs.LG,2026-01-01,1,robots\n",
        "2601.00002,T,A,cs.LG,2026-01-01,0,robots\n",
    ]
    one = tmp_path / "one.csv"
    one.write_text(header + "".join(rows))
    assert list(load_labelled_csv(one)["paper_id"]) == ["2601.00001", "2601.00002"]
    several = tmp_path / "several.csv"
    several.write_text(header + "".join(rows) + "2601.00003,T,A,cs.LG,2026-01-01,1,default\n")
    with pytest.raises(DataError, match=r"holds the labels of 2 topics \(default, robots\)"):
        load_labelled_csv(several)
