"""The labelled-data layout, the one home of it for training and for the service.

The columns, the CSV loader and validator, how authors and categories are split and joined, what
a model reads of a labelled row, and the one builder of a labelled frame from stored papers: the
service's labels and a researcher's CSV become the same canonical frame (and the same
:func:`data_hash`). Every problem is an error that names the rows or values at fault; nothing is
dropped quietly. No database here: the service queries its rows and hands them in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training.inference.artifact import AUTHOR_SEPARATOR, PaperInput, compose_text

logger = logging.getLogger(__name__)

COLUMNS = ("paper_id", "title", "abstract", "categories", "submission_date", "interest")
# Metadata a CSV may add; a missing column reads as empty. Authors are separated by ";".
OPTIONAL_COLUMNS = ("authors", "comment")
# When each label was given (an export writes it): an import keeps whichever label is newer.
# Not read by the models, and not part of the data hash.
LABEL_TIME_COLUMN = "labelled_at"
_SHOWN = 5  # offending rows quoted in a message
CATEGORY_JOINER = ", "  # "cs.CL, cs.AI", as the arXiv-derived CSVs write them
AUTHOR_JOINER = f"{AUTHOR_SEPARATOR} "  # "Ada Lovelace; Alan Turing"
_CATEGORY_SEPARATOR = re.compile(r",\s*(?=[^,\s])")


@dataclass(frozen=True)
class LabelledPaper:
    """One stored label with what the models read of its paper: the service's side of the CSV."""

    paper_id: str
    title: str
    abstract: str
    categories: Sequence[str]
    submission_date: dt.date
    interest: int
    authors: Sequence[str] = ()
    comment: str | None = None
    labelled_at: dt.datetime | None = None


class DataError(ValueError):
    """Labelled data that cannot be trained or evaluated on, with the rows at fault."""


def _rows(labels: Sequence[object], more: int) -> str:
    text = ", ".join(str(label) for label in labels[:_SHOWN])
    if more > _SHOWN:
        text += f" and {more - _SHOWN} more"
    return text


# The column naming each row's topic in the service's export of every topic.
TOPIC_COLUMN = "topic"


def load_labelled_csv(path: str | Path, *, require_both_classes: bool = True) -> pd.DataFrame:
    """Read and check a labelled CSV; rows keep their file line numbers in ``line``.

    Training needs both classes; importing labels into the service does not. A CSV whose
    ``topic`` column (the service's export of every topic) names several topics is refused: one
    model learns one interest.
    """
    frame = read_labelled_csv(path, keep=(TOPIC_COLUMN,))
    if TOPIC_COLUMN in frame.columns:
        topics = sorted({str(t).strip().lower() for t in frame[TOPIC_COLUMN]} - {""})
        if len(topics) > 1:
            raise DataError(
                f"{path} holds the labels of {len(topics)} topics ({', '.join(topics[:5])}) in its "
                "topic column; one model learns one topic: export one "
                "(`arxiv-reco labels export --topic NAME FILE`)"
            )
        frame = frame.drop(columns=TOPIC_COLUMN)
    return validate_labels(frame, source=str(path), require_both_classes=require_both_classes)


def read_labelled_csv(path: str | Path, *, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A labelled CSV's known columns (and ``keep``, whose names match whatever their case) as
    text, each row's file line in ``line``, not yet validated (``validate_labels``); DataError
    for a file that is no such CSV."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"labelled CSV {path} does not exist")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} is empty: expected a header line with the columns {list(COLUMNS)} and "
            "a row per labelled paper"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path} as CSV: {err}") from err
    frame.columns = [str(column).strip() for column in frame.columns]
    kept = {name.lower(): name for name in keep}
    frame.columns = [
        kept.get(column.lower(), column) if column not in kept.values() else column
        for column in frame.columns
    ]
    twice = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if twice:
        raise DataError(
            f"{path}: the column {twice[0]!r} appears twice (whatever its case); keep one"
        )
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: expected the columns {list(COLUMNS)}, but {missing} are missing "
            f"(found {list(frame.columns)})"
        )
    known = (*COLUMNS, *OPTIONAL_COLUMNS, LABEL_TIME_COLUMN, *keep)
    extra = [column for column in frame.columns if column not in known]
    if extra:
        logger.info("%s: ignoring extra columns %s", path, extra)
    frame = frame[[column for column in known if column in frame.columns]].copy()
    # Line 1 is the header, so data row i is on line i + 2.
    frame.insert(0, "line", range(2, len(frame) + 2))
    return frame


def validate_labels(
    frame: pd.DataFrame, *, source: str, require_both_classes: bool = True
) -> pd.DataFrame:
    """Normalise the columns' types and reject what cannot be trained on.

    ``frame`` needs the :data:`COLUMNS` and a ``line`` column that tells the user where a row is;
    the :data:`OPTIONAL_COLUMNS` it lacks are added empty.
    """
    where = f"{source}:"
    if frame.empty:
        raise DataError(f"{where} no labelled rows")
    frame = frame.copy()
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    for column in ("paper_id", "title", "abstract", "categories", *OPTIONAL_COLUMNS):
        frame[column] = frame[column].fillna("").astype(str).str.strip()
    # One spelling of each list, whatever separators the source used.
    frame["categories"] = [join_categories(split_categories(text)) for text in frame["categories"]]
    frame["authors"] = [AUTHOR_JOINER.join(split_authors(text)) for text in frame["authors"]]

    blank_ids = frame.loc[frame["paper_id"] == "", "line"].tolist()
    if blank_ids:
        lines = _rows(blank_ids, len(blank_ids))
        raise DataError(f"{where} empty paper_id in {len(blank_ids)} rows (lines {lines})")

    duplicated = frame[frame["paper_id"].duplicated(keep=False)]
    if not duplicated.empty:
        groups = duplicated.groupby("paper_id", sort=False)["line"].apply(list)
        shown = [f"{pid} (lines {', '.join(map(str, lines))})" for pid, lines in groups.items()]
        raise DataError(
            f"{where} duplicate paper_id values, each must appear once: {_rows(shown, len(shown))}"
        )

    interest = frame["interest"].astype(str).str.strip()
    bad_label = ~interest.isin(["0", "1"])
    if bad_label.any():
        bad = frame.loc[bad_label]
        shown = [
            f"line {line} ({value!r})"
            for line, value in zip(bad["line"], interest[bad_label], strict=True)
        ]
        raise DataError(
            f"{where} interest must be 0 or 1; {len(shown)} rows have other values: "
            f"{_rows(shown, len(shown))}"
        )
    frame["interest"] = interest.astype(int)

    dates = pd.to_datetime(
        frame["submission_date"].astype(str), utc=True, errors="coerce", format="mixed"
    )
    bad_date = dates.isna()
    if bad_date.any():
        bad = frame.loc[bad_date]
        shown = [
            f"line {line} ({value!r})"
            for line, value in zip(bad["line"], bad["submission_date"], strict=True)
        ]
        raise DataError(
            f"{where} unparsable submission_date in {len(shown)} rows (expected e.g. 2025-03-18 "
            f"or 2025-03-18 00:00:00+00:00): {_rows(shown, len(shown))}"
        )
    # The service keys papers by their UTC listing day; a time of day would only make the same
    # labels hash differently from a CSV and from the database.
    frame["submission_date"] = dates.dt.floor("D")
    if LABEL_TIME_COLUMN in frame.columns:
        frame[LABEL_TIME_COLUMN] = _label_times(frame, where)

    empty_abstract = frame["abstract"] == ""
    if empty_abstract.any():
        bad = frame.loc[empty_abstract]
        shown = [
            f"line {line} ({pid})" for line, pid in zip(bad["line"], bad["paper_id"], strict=True)
        ]
        raise DataError(f"{where} empty abstract in {len(shown)} rows: {_rows(shown, len(shown))}")

    counts = frame["interest"].value_counts()
    if len(counts) < 2 and require_both_classes:
        only = int(counts.index[0])
        raise DataError(
            f"{where} only one class: all {len(frame)} rows have interest={only}; "
            "both interesting (1) and uninteresting (0) papers are needed"
        )

    untitled = int((frame["title"] == "").sum())
    if untitled:
        logger.warning(
            "%s %d rows have no title; their text is the abstract alone", where, untitled
        )
    logger.info(
        "%s %d labelled rows, %d positive (%.2f%%), %s to %s",
        where,
        len(frame),
        int(counts.get(1, 0)),
        100.0 * counts.get(1, 0) / len(frame),
        frame["submission_date"].min().date(),
        frame["submission_date"].max().date(),
    )
    return frame.reset_index(drop=True)


def _label_times(frame: pd.DataFrame, where: str) -> pd.Series:
    text = frame[LABEL_TIME_COLUMN].fillna("").astype(str).str.strip()
    times = pd.to_datetime(text.where(text != ""), utc=True, errors="coerce", format="mixed")
    bad = times.isna() & (text != "")
    if bad.any():
        rows = frame.loc[bad]
        shown = [
            f"line {line} ({value!r})" for line, value in zip(rows["line"], text[bad], strict=True)
        ]
        raise DataError(
            f"{where} unparsable {LABEL_TIME_COLUMN} in {len(shown)} rows (expected e.g. "
            f"2025-03-18T09:30:00+00:00, or empty): {_rows(shown, len(shown))}"
        )
    return times


def labels_frame(
    papers: Iterable[LabelledPaper], *, source: str, require_both_classes: bool = True
) -> pd.DataFrame:
    """Stored labels as the validated frame a CSV of them would give; ``line`` is the paper id."""
    frame = pd.DataFrame(
        [
            {
                "line": paper.paper_id,
                "paper_id": paper.paper_id,
                "title": paper.title,
                "abstract": paper.abstract,
                "categories": join_categories(paper.categories),
                "submission_date": paper.submission_date.isoformat(),
                "interest": str(paper.interest),
                "authors": AUTHOR_JOINER.join(paper.authors),
                "comment": paper.comment or "",
                LABEL_TIME_COLUMN: paper.labelled_at.isoformat() if paper.labelled_at else "",
            }
            for paper in papers
        ],
        columns=["line", *COLUMNS, *OPTIONAL_COLUMNS, LABEL_TIME_COLUMN],
    )
    return validate_labels(frame, source=source, require_both_classes=require_both_classes)


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A validated frame in the CSV's text layout, every column the models read included, so
    that writing it and loading it back gives the same frame."""
    timed = LABEL_TIME_COLUMN in frame.columns
    out = frame[[*COLUMNS, *OPTIONAL_COLUMNS, *([LABEL_TIME_COLUMN] if timed else [])]].copy()
    out["submission_date"] = out["submission_date"].dt.strftime("%Y-%m-%d %H:%M:%S+00:00")
    if timed:
        out[LABEL_TIME_COLUMN] = [
            "" if pd.isna(t) else t.isoformat(timespec="seconds") for t in out[LABEL_TIME_COLUMN]
        ]
    return out


def empty_frame() -> pd.DataFrame:
    """No labels yet, in the validated layout (validation rejects an empty frame)."""
    frame = pd.DataFrame(columns=[*COLUMNS, *OPTIONAL_COLUMNS, LABEL_TIME_COLUMN])
    frame["submission_date"] = pd.to_datetime(frame["submission_date"], utc=True)
    return frame


def texts_of(frame: pd.DataFrame, text_fields: Sequence[str]) -> list[str]:
    return [
        compose_text(title, abstract, text_fields)
        for title, abstract in zip(frame["title"], frame["abstract"], strict=True)
    ]


def split_authors(text: str) -> tuple[str, ...]:
    """``"Ada Lovelace; Alan Turing"`` -> ``("Ada Lovelace", "Alan Turing")``."""
    return tuple(name.strip() for name in str(text).split(AUTHOR_SEPARATOR) if name.strip())


def split_categories(text: str) -> list[str]:
    """``"cs.CL, cs.AI"`` or ``"cs.CL,cs.AI"`` -> ``["cs.CL", "cs.AI"]``; a comma not followed
    by a name stays inside its item."""
    return [part.strip() for part in _CATEGORY_SEPARATOR.split(str(text)) if part.strip()]


def join_categories(categories: Iterable[str]) -> str:
    return CATEGORY_JOINER.join(c.strip() for c in categories if c.strip())


def paper_inputs(frame: pd.DataFrame) -> list[PaperInput]:
    """What the model reads of each labelled row: text and metadata, in row order."""
    authors = frame["authors"] if "authors" in frame.columns else [""] * len(frame)
    comments = frame["comment"] if "comment" in frame.columns else [""] * len(frame)
    return [
        PaperInput(
            title=title,
            abstract=abstract,
            authors=split_authors(names),
            categories=tuple(split_categories(categories)),
            comment=comment or None,
        )
        for title, abstract, categories, names, comment in zip(
            frame["title"], frame["abstract"], frame["categories"], authors, comments, strict=True
        )
    ]


def data_hash(frame: pd.DataFrame) -> str:
    """A fingerprint of the labelled rows, so a model can be traced to its data. Metadata
    columns count only when some row has them, so a CSV without them keeps its old hash."""
    present = [c for c in OPTIONAL_COLUMNS if c in frame.columns and frame[c].astype(bool).any()]
    canonical = frame[[*COLUMNS, *present]].copy()
    canonical["submission_date"] = canonical["submission_date"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    payload = canonical.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return "sha256:" + hashlib.sha256(payload).hexdigest()
