"""Labels from what a reader has: fetch the papers the database lacks through the project's one
arXiv client, then store every paper and label in one transaction (the caller's).

All or nothing: the file is read and checked, and every missing paper fetched, before anything is
written; a file that cannot be read, or an arXiv that cannot be reached, stores nothing. An id
arXiv does not know, an entry without an arXiv id and a paper named twice are skipped and
listed in the report, never guessed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.arxiv_ids import split_version
from app.jobs.arxiv_source import ArxivClient, ArxivPaper, IdLookup
from app.jobs.ingest import upsert_papers
from app.label_import import SEED_LIMIT
from app.label_import.formats import FORMAT_NAMES, UNITS, ReadFile, Reference, read_file
from app.store.labels import ImportReport, import_labels_csv, merge_file_label
from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper, utcnow
from training.inference.layout import DataError

logger = logging.getLogger(__name__)

# Label sources (Label.source) of imports: a CSV keeps "csv", as before; the other formats and
# the author search say "import".
CSV_SOURCE = "csv"
IMPORT_SOURCE = "import"
NOT_ON_ARXIV = "arXiv does not know this id"


class NotOnArxiv(LookupError):
    """arXiv has no paper of this id (or refuses the id as malformed)."""


@dataclass(frozen=True)
class Skipped:
    where: str  # "line 3", "item 2"
    what: str  # the id, or the entry's citation key and title
    reason: str


@dataclass
class FileImportReport(ImportReport):
    """What an import did: labels new, changed and unchanged, conflicts with labels given later
    (as ``ImportReport``), and where each paper came from: the file's own columns
    (``new_papers``, today's CSV layout), fetched from arXiv, already stored; and what was
    skipped, with why."""

    source: str = ""
    format: str = "csv"
    fetched: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report in plain words, as the command prints it and the page shows it."""
        papers = []
        if self.new_papers:
            papers.append(f"{self.new_papers} papers added from the file")
        if self.fetched:
            papers.append(f"{len(self.fetched)} fetched from arXiv")
        if self.already_stored:
            papers.append(f"{len(self.already_stored)} already stored")
        lines = [
            f"{self.rows} {UNITS[self.format]}"
            + ("" if self.format == "ids" else f" ({FORMAT_NAMES[self.format]})")
            + f": {self.new_labels} new labels, {self.changed_labels} changed, {self.unchanged} "
            f"unchanged" + (f"; {', '.join(papers)}" if papers else "")
        ]
        kept = self.kept_stored
        if kept:
            lines.append(
                f"{len(kept)} labels given later than the file's were kept (--prefer-file takes "
                f"the file's): {_listed(kept)}"
            )
        overwritten = [c.paper_id for c in self.conflicts if c.kept == "file"]
        if overwritten:
            lines.append(
                f"{len(overwritten)} stored labels were replaced by the file's: "
                + _listed(overwritten)
            )
        if self.skipped:
            lines.append(f"{len(self.skipped)} skipped:")
            lines += [f"  {s.where}: {s.what}: {s.reason}" for s in self.skipped]
        return lines


def _listed(ids: list[str], limit: int = 20) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def import_file(
    session: Session,
    path: Path,
    *,
    client: ArxivClient,
    name: str | None = None,
    format: str | None = None,
    prefer_file: bool = False,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> FileImportReport:
    """Import a file of any format, its labels into the topic ``topic_id`` (``format``, or detected
    from its content and name). Labels carry the file's ``labelled_at`` where it has one, else its
    modification time, and the newer label wins where the file and a stored label disagree
    (``prefer_file``: the file's). ``name`` stands for ``path`` in messages (an upload kept in a
    temporary file)."""
    path = Path(path)
    name = name or str(path)
    read = read_file(path, name=name, format=format)
    if read.full_csv:
        try:
            base = import_labels_csv(session, path, prefer_file=prefer_file, topic_id=topic_id)
        except DataError as err:
            raise DataError(str(err).replace(str(path), name)) from None
        return FileImportReport(**vars(base), source=name, format="csv")
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
    return import_references(
        session,
        read,
        client=client,
        labelled_at=modified,
        prefer_file=prefer_file,
        topic_id=topic_id,
    )


def import_references(
    session: Session,
    read: ReadFile,
    *,
    client: ArxivClient,
    labelled_at: dt.datetime | None = None,
    prefer_file: bool = False,
    known: Mapping[str, ArxivPaper] | None = None,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> FileImportReport:
    """Store the papers and labels ``read`` names: the stored ones as they are, the others
    fetched from arXiv (``known``: papers already fetched, by id). A reference's own
    ``labelled_at`` wins over ``labelled_at`` (default: now)."""
    labelled_at = labelled_at or utcnow()
    report = FileImportReport(
        rows=len(read.references),
        new_papers=0,
        new_labels=0,
        changed_labels=0,
        unchanged=0,
        source=read.name,
        format=read.format,
    )
    first: dict[str, Reference] = {}
    for reference in read.references:
        if reference.paper_id is None:
            report.skipped.append(Skipped(reference.where, reference.describe(), reference.why_not))
        elif reference.paper_id in first:
            earlier = first[reference.paper_id].where
            report.skipped.append(
                Skipped(reference.where, reference.paper_id, f"named again (first on {earlier})")
            )
        else:
            first[reference.paper_id] = reference
    ids = list(first)
    stored = set(session.scalars(select(Paper.id).where(Paper.id.in_(ids)))) if ids else set()
    missing = [paper_id for paper_id in ids if paper_id not in stored]
    given = dict(known or {})
    to_fetch = [paper_id for paper_id in missing if paper_id not in given]
    # Every fetch before any write: an unreachable arXiv raises FetchError here, storing nothing.
    lookup = client.fetch_ids(to_fetch) if to_fetch else IdLookup()
    papers = {paper_id: given[paper_id] for paper_id in missing if paper_id in given}
    papers.update(lookup.papers)
    for paper_id in missing:
        if paper_id not in papers:
            reason = lookup.refused.get(paper_id, NOT_ON_ARXIV)
            report.skipped.append(Skipped(first[paper_id].where, paper_id, reason))
    upsert_papers(session, [papers[paper_id] for paper_id in missing if paper_id in papers])
    report.fetched = [paper_id for paper_id in missing if paper_id in papers]
    report.already_stored = [paper_id for paper_id in ids if paper_id in stored]
    labelled = [paper_id for paper_id in ids if paper_id in stored or paper_id in papers]
    labels = {
        label.paper_id: label
        for label in session.scalars(
            select(Label).where(Label.topic_id == topic_id, Label.paper_id.in_(labelled))
        )
    }
    source = CSV_SOURCE if read.format == "csv" else IMPORT_SOURCE
    for paper_id in labelled:
        reference = first[paper_id]
        outcome, conflict = merge_file_label(
            session,
            labels.get(paper_id),
            paper_id=paper_id,
            interest=reference.interest,
            given_at=reference.labelled_at or labelled_at,
            source=source,
            prefer_file=prefer_file,
            topic_id=topic_id,
        )
        report.count(outcome, conflict)
    session.flush()
    logger.info(
        "imported %s (%s): %d new labels, %d changed, %d fetched from arXiv, %d skipped",
        read.name,
        read.format,
        report.new_labels,
        report.changed_labels,
        len(report.fetched),
        len(report.skipped),
    )
    return report


def fetch_and_store(session: Session, *, client: ArxivClient, paper_id: str) -> Paper:
    """A paper the database lacks, fetched from arXiv and stored as ingestion stores it;
    NotOnArxiv when arXiv has none of that id, FetchError when arXiv cannot be asked."""
    base = split_version(paper_id)[0]
    lookup = client.fetch_ids([base])
    paper = lookup.papers.get(base)
    if paper is None:
        raise NotOnArxiv(
            f"arXiv does not know paper {paper_id}"
            + (f": {lookup.refused[base]}" if base in lookup.refused else "")
        )
    upsert_papers(session, [paper])
    logger.info("fetched %s from arXiv to label it", base)
    return session.get_one(Paper, base)


@dataclass(frozen=True)
class Candidate:
    """One of an author's papers on arXiv, with what this service has of it."""

    paper: ArxivPaper
    stored: bool
    label: int | None


def author_candidates(
    session: Session,
    *,
    client: ArxivClient,
    name: str,
    limit: int = SEED_LIMIT,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> list[Candidate]:
    """The author's newest papers on arXiv (``au:"Full Name"``), newest first, each saying
    whether it is stored and how it is labelled. ValueError for a name without letters."""
    papers = client.author_papers(name, limit=limit)
    ids = [paper.id for paper in papers]
    stored = set(session.scalars(select(Paper.id).where(Paper.id.in_(ids)))) if ids else set()
    labels = {
        label.paper_id: label.interest
        for label in session.scalars(
            select(Label).where(Label.topic_id == topic_id, Label.paper_id.in_(ids))
        )
    }
    return [Candidate(paper, paper.id in stored, labels.get(paper.id)) for paper in papers]


def chosen_papers(name: str, papers: Sequence[ArxivPaper]) -> ReadFile:
    """Papers ticked from a list (an author's), as references to import: each interesting."""
    return ReadFile(
        name,
        "ids",
        [Reference(f"number {index}", p.id) for index, p in enumerate(papers, start=1)],
    )


def set_modified(path: Path, when: dt.datetime) -> None:
    """Give an uploaded file the modification time the browser reported, which its labels
    carry (the newer label wins)."""
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))
