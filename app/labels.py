"""Labels as first-class data: set and clear them, import and export the notebook's CSV layout."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Label, Paper, utcnow
from training.layout import (
    LabelledPaper,
    csv_frame,
    csv_text,
    empty_frame,
    labels_frame,
    load_labelled_csv,
    split_authors,
    split_categories,
)

logger = logging.getLogger(__name__)


class UnknownPaperError(LookupError):
    pass


@dataclass
class ImportReport:
    rows: int
    new_papers: int
    new_labels: int
    changed_labels: int
    unchanged: int


def set_label(session: Session, *, paper_id: str, interest: int, source: str) -> Label:
    if interest not in (0, 1):
        raise ValueError(f"interest must be 0 or 1, got {interest!r}")
    if session.get(Paper, paper_id) is None:
        raise UnknownPaperError(f"paper {paper_id} is not in the database")
    label = session.get(Label, paper_id)
    if label is None:
        label = Label(paper_id=paper_id, interest=interest, source=source)
        session.add(label)
    elif label.interest != interest:
        label.interest, label.source, label.updated_at = interest, source, utcnow()
    session.flush()
    return label


def clear_label(session: Session, *, paper_id: str) -> bool:
    label = session.get(Label, paper_id)
    if label is None:
        return False
    session.delete(label)
    session.flush()
    return True


def import_labels_csv(session: Session, path: Path) -> ImportReport:
    """Validate the whole file first (errors name the rows), then store it in one transaction.
    Papers the database lacks are added from the file, with its optional authors and comment
    columns; a paper it has keeps its metadata."""
    frame = load_labelled_csv(path, require_both_classes=False)
    papers = {
        p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(frame["paper_id"])))
    }
    labels = {
        label.paper_id: label
        for label in session.scalars(select(Label).where(Label.paper_id.in_(frame["paper_id"])))
    }
    report = ImportReport(len(frame), 0, 0, 0, 0)
    now = utcnow()
    for row in frame.itertuples(index=False):
        if row.paper_id not in papers:
            submitted: dt.datetime = row.submission_date.to_pydatetime()
            session.add(
                Paper(
                    id=row.paper_id,
                    version=1,
                    title=row.title,
                    abstract=row.abstract,
                    authors=list(split_authors(row.authors)),
                    categories=split_categories(row.categories),
                    primary_category=next(iter(split_categories(row.categories)), ""),
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
        label = labels.get(row.paper_id)
        if label is None:
            session.add(Label(paper_id=row.paper_id, interest=int(row.interest), source="csv"))
            report.new_labels += 1
        elif label.interest != int(row.interest):
            label.interest, label.source, label.updated_at = int(row.interest), "csv", now
            report.changed_labels += 1
        else:
            report.unchanged += 1
    session.flush()
    logger.info("imported %s: %s", path, report)
    return report


def stored_labels(session: Session) -> list[LabelledPaper]:
    """Every label with what the models read of its paper, oldest paper first."""
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
        ).join(Label, Label.paper_id == Paper.id)
    ).all()
    # Ordered here, not in SQL: collations differ between databases, and the date split (and so
    # the data hash) must not.
    rows = sorted(rows, key=lambda row: (row.submitted_on, row.id))
    return [
        LabelledPaper(
            paper_id=paper_id,
            title=title,
            abstract=abstract,
            categories=categories or [],
            submission_date=submitted_on,
            interest=interest,
            authors=authors or [],
            comment=comment,
        )
        for paper_id, title, abstract, categories, submitted_on, interest, authors, comment in rows
    ]


def load_labels(session: Session, *, require_both_classes: bool = True) -> pd.DataFrame:
    """The service's labels as the validated frame that a CSV of them gives (same data hash)."""
    return labels_frame(
        stored_labels(session),
        source="database labels",
        require_both_classes=require_both_classes,
    )


def export_labels_frame(session: Session) -> pd.DataFrame:
    """Every label with its paper in the CSV layout, authors and comment included, oldest first."""
    papers = stored_labels(session)
    if not papers:
        return csv_frame(empty_frame())
    return csv_frame(labels_frame(papers, source="database labels", require_both_classes=False))


def labels_csv_text(session: Session) -> str:
    papers = stored_labels(session)
    if not papers:
        return csv_frame(empty_frame()).to_csv(index=False, lineterminator="\n")
    return csv_text(labels_frame(papers, source="database labels", require_both_classes=False))


def export_labels_csv(session: Session, path: Path) -> int:
    """Write the labels to ``path`` atomically; returns the number of rows."""
    frame = export_labels_frame(session)
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
