"""Labels as first-class data: set and clear them, import and export the notebook's CSV layout.

Every label belongs to a topic (``topic_id``; the default topic when none is given).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.arxiv_ids import is_arxiv_id, split_version
from app.core.config import split_subject_classes
from app.store.schema import DEFAULT_TOPIC_ID, FIRST_READER_ID, Label, Paper, Topic, utcnow
from app.store.topics import TopicError, TopicNotFound, create_topic, find_topic, list_topics
from training.inference.layout import (
    LABEL_TIME_COLUMN,
    TOPIC_COLUMN,
    DataError,
    LabelledPaper,
    csv_frame,
    empty_frame,
    labels_frame,
    read_labelled_csv,
    split_authors,
    split_categories,
    validate_labels,
)

logger = logging.getLogger(__name__)


# OWASP's CSV injection: a spreadsheet runs a cell that starts with one of = + - @ (or a tab or
# a carriage return before one) as a formula, and an arXiv title or comment is the author's to
# write. Such a cell is exported behind a quote ('), which spreadsheets show as text; so is one
# that already starts with quotes before such a character, so that taking one quote off on
# import gives every cell back as it was.
_FORMULA_LIKE = re.compile(r"'*[=+\-@\t\r]")


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet shows as text rather than runs (``from_spreadsheet_safe`` undoes
    it exactly)."""
    return "'" + cell if _FORMULA_LIKE.match(cell) else cell


def from_spreadsheet_safe(cell: str) -> str:
    """A cell as it was before ``spreadsheet_safe``."""
    return cell[1:] if cell.startswith("'") and _FORMULA_LIKE.match(cell, 1) else cell


def _text_cells(frame: pd.DataFrame, convert: Callable[[str], str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if any(isinstance(value, str) for value in values):
            frame[column] = [convert(v) if isinstance(v, str) else v for v in values]
    return frame


class UnknownPaperError(LookupError):
    pass


@dataclass(frozen=True)
class LabelConflict:
    """A file's label that disagrees with a stored one given later (or earlier, with
    ``prefer_file``): which one was kept, and when and where the stored one came from."""

    paper_id: str
    stored: int
    stored_source: str
    stored_at: dt.datetime
    file: int
    kept: str  # "stored" or "file"


@dataclass
class ImportReport:
    rows: int
    new_papers: int
    new_labels: int
    changed_labels: int
    unchanged: int
    conflicts: list[LabelConflict] = field(default_factory=list)

    @property
    def kept_stored(self) -> list[str]:
        return [c.paper_id for c in self.conflicts if c.kept == "stored"]

    def count(self, outcome: str, conflict: LabelConflict | None) -> None:
        """Tally one ``merge_file_label`` outcome."""
        if outcome == "new":
            self.new_labels += 1
        elif outcome == "unchanged":
            self.unchanged += 1
        elif outcome == "changed":
            self.changed_labels += 1
        if conflict is not None:
            self.conflicts.append(conflict)


def set_label(
    session: Session,
    *,
    paper_id: str,
    interest: int,
    source: str,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> Label:
    if interest not in (0, 1):
        raise ValueError(f"interest must be 0 or 1, got {interest!r}")
    if session.get(Paper, paper_id) is None:
        raise UnknownPaperError(f"paper {paper_id} is not in the database")
    label = session.get(Label, (topic_id, paper_id))
    if label is None:
        label = Label(topic_id=topic_id, paper_id=paper_id, interest=interest, source=source)
        session.add(label)
    elif label.interest != interest:
        label.interest, label.source, label.updated_at = interest, source, utcnow()
    session.flush()
    return label


def clear_label(session: Session, *, paper_id: str, topic_id: int = DEFAULT_TOPIC_ID) -> bool:
    label = session.get(Label, (topic_id, paper_id))
    if label is None:
        return False
    session.delete(label)
    session.flush()
    return True


def import_labels_csv(
    session: Session, path: Path, *, prefer_file: bool = False, topic_id: int = DEFAULT_TOPIC_ID
) -> ImportReport:
    """Validate the whole file first (errors name the rows), then store it in one transaction.
    Papers the database lacks are added from the file, with its optional authors and comment
    columns; a paper it has keeps its metadata.

    A label carries its time: the file's ``labelled_at`` column, else the file's modification
    time. Where the file and a stored label disagree, the newer one wins (``prefer_file``: the
    file always does), and every such paper is listed in the report's ``conflicts``. Cells an
    export made spreadsheet-safe are read back as they were.

    An optional ``topic`` column puts each row in its topic (made when it does not exist yet),
    so that an export of every topic imports back whole; a row without one, or a file without
    the column, goes to ``topic_id``. The topics it names are those of ``topic_id``'s reader."""
    path = Path(path)
    raw = read_labelled_csv(path, keep=(TOPIC_COLUMN,))
    if raw.empty:
        raise DataError(f"{path}: no labelled rows")
    groups: list[tuple[int, pd.DataFrame]] = []
    if TOPIC_COLUMN not in raw.columns:
        groups.append((topic_id, raw))
    else:
        # Grouped by the topic each row lands in, not by how its cell spells it: a blank cell
        # and the name of the --topic given are one group, whose duplicates are refused.
        names = raw[TOPIC_COLUMN].str.strip().str.lower()
        given = session.get(Topic, topic_id)
        reader_id = given.reader_id if given is not None else FIRST_READER_ID
        ids = {
            name: _topic_of(session, name, raw[names == name], path, topic_id, reader_id)
            for name in dict.fromkeys(names)
        }
        landed = names.map(ids)
        for group_topic in dict.fromkeys(landed):
            groups.append((group_topic, raw[landed == group_topic].drop(columns=TOPIC_COLUMN)))
    file_time = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
    frames = []
    for group_topic, rows in groups:
        where = str(path) if len(groups) == 1 else f"{path} (the rows of one topic)"
        frame = validate_labels(rows, source=where, require_both_classes=False)
        frames.append(
            (group_topic, _text_cells(checked_ids(frame, source=where), from_spreadsheet_safe))
        )
    report = ImportReport(len(raw), 0, 0, 0, 0)
    for group_topic, frame in frames:  # every group validated before anything is stored
        _store_csv_rows(session, frame, report, group_topic, file_time, prefer_file)
    session.flush()
    logger.info("imported %s: %s", path, report)
    return report


def _topic_of(
    session: Session, name: str, rows: pd.DataFrame, path: Path, default: int, reader_id: int
) -> int:
    if not name:
        return default
    try:
        return find_topic(session, name, reader_id).id
    except TopicNotFound:
        pass
    try:
        return create_topic(session, name, reader_id).id
    except TopicError as err:
        lines = ", ".join(str(line) for line in rows["line"].head(5))
        raise DataError(f"{path}: line {lines}: {err}") from None


def _store_csv_rows(
    session: Session,
    frame: pd.DataFrame,
    report: ImportReport,
    topic_id: int,
    file_time: dt.datetime,
    prefer_file: bool,
) -> None:
    """Store one topic's validated rows, adding the papers the database lacks."""
    session.flush()  # an earlier topic's rows may have added some of these papers
    papers = {
        p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(frame["paper_id"])))
    }
    labels = {
        label.paper_id: label
        for label in session.scalars(
            select(Label).where(Label.topic_id == topic_id, Label.paper_id.in_(frame["paper_id"]))
        )
    }
    now = utcnow()
    for row in frame.itertuples(index=False):
        if row.paper_id not in papers:
            submitted: dt.datetime = row.submission_date.to_pydatetime()
            categories, subject_classes = split_subject_classes(split_categories(row.categories))
            session.add(
                Paper(
                    id=row.paper_id,
                    version=1,
                    title=row.title,
                    abstract=row.abstract,
                    authors=list(split_authors(row.authors)),
                    categories=categories,
                    subject_classes=subject_classes,
                    primary_category=next(iter(categories), ""),
                    submitted_at=submitted,
                    submitted_on=submitted.date(),
                    comment=row.comment or None,
                    abs_url=f"https://arxiv.org/abs/{row.paper_id}",
                    pdf_url=f"https://arxiv.org/pdf/{row.paper_id}",
                    first_seen_at=now,
                    last_changed_at=now,
                )
            )
            report.new_papers += 1
        given = getattr(row, LABEL_TIME_COLUMN, None)
        given_at = file_time if given is None or pd.isna(given) else given.to_pydatetime()
        outcome, conflict = merge_file_label(
            session,
            labels.get(row.paper_id),
            paper_id=row.paper_id,
            interest=int(row.interest),
            given_at=given_at,
            source="csv",
            prefer_file=prefer_file,
            topic_id=topic_id,
        )
        report.count(outcome, conflict)


def merge_file_label(
    session: Session,
    stored: Label | None,
    *,
    paper_id: str,
    interest: int,
    given_at: dt.datetime,
    source: str,
    prefer_file: bool,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> tuple[str, LabelConflict | None]:
    """A file's label against the stored one, for every import format: where they disagree,
    the newer wins (``prefer_file``: the file's always does). Returns ``new``, ``unchanged``,
    ``changed`` or ``kept`` (the stored one stays), and the conflict where they disagreed."""
    if stored is None:
        session.add(
            Label(
                topic_id=topic_id,
                paper_id=paper_id,
                interest=interest,
                source=source,
                created_at=given_at,
                updated_at=given_at,
            )
        )
        return "new", None
    if stored.interest == interest:
        return "unchanged", None
    file_wins = prefer_file or stored.updated_at <= given_at
    conflict = LabelConflict(
        paper_id=paper_id,
        stored=stored.interest,
        stored_source=stored.source,
        stored_at=stored.updated_at,
        file=interest,
        kept="file" if file_wins else "stored",
    )
    if not file_wins:
        return "kept", conflict
    stored.interest, stored.source, stored.updated_at = interest, source, given_at
    return "changed", conflict


def checked_ids(frame: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Paper ids must be arXiv ids; a version suffix is dropped (the service keeps one row per
    paper), and two rows of one paper in different versions are an error."""
    bad = frame.loc[~frame["paper_id"].map(is_arxiv_id)]
    if not bad.empty:
        shown = [
            f"line {line} ({pid!r})" for line, pid in zip(bad["line"], bad["paper_id"], strict=True)
        ]
        raise DataError(
            f"{source}: {len(shown)} paper_id values are not arXiv ids (expected e.g. 2503.11742 "
            f"or hep-th/9901001): {', '.join(shown[:5])}" + (" ..." if len(shown) > 5 else "")
        )
    frame = frame.copy()
    frame["paper_id"] = [split_version(pid)[0] for pid in frame["paper_id"]]
    twice = frame[frame["paper_id"].duplicated(keep=False)]
    if not twice.empty:
        shown = [
            f"{pid} (line {line})"
            for line, pid in zip(twice["line"], twice["paper_id"], strict=True)
        ]
        raise DataError(
            f"{source}: the same paper in several versions, each must appear once: "
            + ", ".join(shown[:6])
        )
    return frame


def stored_labels(session: Session, topic_id: int = DEFAULT_TOPIC_ID) -> list[LabelledPaper]:
    """Every label of the topic with what the models read of its paper, oldest paper first."""
    rows = session.execute(
        select(
            Paper.id,
            Paper.title,
            Paper.abstract,
            Paper.categories,
            Paper.submitted_on,
            Label.interest,
            Paper.authors,
            Paper.comment,
            Label.updated_at,
            Paper.subject_classes,
        )
        .join(Label, Label.paper_id == Paper.id)
        .where(Label.topic_id == topic_id)
    ).all()
    # Ordered here, not in SQL: collations differ between databases, and the date split (and so
    # the data hash) must not.
    rows = sorted(rows, key=lambda row: (row.submitted_on, row.id))
    return [
        LabelledPaper(
            paper_id=paper_id,
            title=title,
            abstract=abstract,
            # arXiv's category terms as they came, subject classes too: an export imports back
            # whole (the import splits them again), and the data hash stays what it was.
            categories=[*(categories or []), *(subject_classes or [])],
            submission_date=submitted_on,
            interest=interest,
            authors=authors or [],
            comment=comment,
            labelled_at=labelled_at,
        )
        for (
            paper_id,
            title,
            abstract,
            categories,
            submitted_on,
            interest,
            authors,
            comment,
            labelled_at,
            subject_classes,
        ) in rows
    ]


def load_labels(
    session: Session, *, require_both_classes: bool = True, topic_id: int = DEFAULT_TOPIC_ID
) -> pd.DataFrame:
    """The topic's labels as the validated frame that a CSV of them gives (same data hash)."""
    return labels_frame(
        stored_labels(session, topic_id),
        source="database labels",
        require_both_classes=require_both_classes,
    )


def export_labels_frame(session: Session, topic_id: int = DEFAULT_TOPIC_ID) -> pd.DataFrame:
    """Every label with its paper in the CSV layout, authors and comment included, oldest first,
    each text cell spreadsheet-safe (``spreadsheet_safe``; the import reads it back)."""
    papers = stored_labels(session, topic_id)
    if not papers:
        return csv_frame(empty_frame())
    frame = csv_frame(labels_frame(papers, source="database labels", require_both_classes=False))
    return _text_cells(frame, spreadsheet_safe)


def export_all_topics_frame(session: Session, reader_id: int = FIRST_READER_ID) -> pd.DataFrame:
    """Every topic's labels of the reader's, a ``topic`` column last naming each row's topic
    (the import puts each row back in its topic), topics in the reader's order."""
    frames = [
        export_labels_frame(session, topic.id).assign(**{TOPIC_COLUMN: topic.name})
        for topic in list_topics(session, reader_id)
    ]
    return pd.concat(frames, ignore_index=True)


def labels_csv_text(
    session: Session, topic_id: int | None = DEFAULT_TOPIC_ID, reader_id: int = FIRST_READER_ID
) -> str:
    """One topic's labels as CSV; ``topic_id=None``: every topic's of the reader's, with a
    ``topic`` column."""
    frame = (
        export_all_topics_frame(session, reader_id)
        if topic_id is None
        else export_labels_frame(session, topic_id)
    )
    return frame.to_csv(index=False, lineterminator="\n")


def export_labels_csv(
    session: Session,
    path: Path,
    topic_id: int | None = DEFAULT_TOPIC_ID,
    reader_id: int = FIRST_READER_ID,
) -> int:
    """Write a topic's labels (``None``: every topic's of the reader's, with a ``topic``
    column) to ``path`` atomically; returns the number of rows."""
    frame = (
        export_all_topics_frame(session, reader_id)
        if topic_id is None
        else export_labels_frame(session, topic_id)
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            frame.to_csv(out, index=False, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(frame)
