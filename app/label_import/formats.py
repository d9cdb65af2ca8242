"""What a new reader already has, read into references to arXiv papers: a labelled CSV (today's
layout, or only ``paper_id,interest``), a list of arXiv ids or URLs, BibTeX, CSL-JSON (Zotero,
Mendeley) and RIS. Reading only: nothing is fetched or stored here, and every problem is a
``DataError`` that names its line. An entry that names no arXiv paper is kept as a reference
without an id, so that the report can list it; its id is never guessed from its title.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bibtexparser
import pandas as pd
from bibtexparser import model as bibtex
from bibtexparser.middlewares import LatexDecodingMiddleware

from app.core.arxiv_ids import arxiv_id_of, find_arxiv_id
from app.label_import import FORMATS
from app.store.labels import checked_ids
from training.inference.layout import COLUMNS, LABEL_TIME_COLUMN, DataError

logger = logging.getLogger(__name__)

FORMAT_NAMES = {
    "csv": "labelled CSV",
    "ids": "arXiv ids",
    "bibtex": "BibTeX",
    "csl-json": "CSL-JSON",
    "ris": "RIS",
}
# What one reference of each format is called in a report.
UNITS = {
    "csv": "rows",
    "ids": "arXiv ids",
    "bibtex": "entries",
    "csl-json": "items",
    "ris": "records",
}
# The file name's hint, where the content alone does not tell.
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "ids",
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".json": "csl-json",
    ".ris": "ris",
}
ID_EXAMPLES = "e.g. 2503.11742, hep-th/9901001 or https://arxiv.org/abs/2503.11742"
_SHOWN = 5
# The columns that make a CSV today's full layout; without any of them it is paper_id,interest.
_PAPER_COLUMNS = [c for c in COLUMNS if c not in ("paper_id", "interest")]
_COMMENT = re.compile(r"(?:^|\s)#")
_BIBTEX_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


@dataclass(frozen=True)
class Reference:
    """One paper a file names: where, its arXiv id (without version; None when the entry has
    none), the label it carries, and how the file names it (for the report)."""

    where: str  # "line 12", or "item 3" of a JSON list
    paper_id: str | None
    interest: int = 1
    labelled_at: dt.datetime | None = None
    key: str = ""  # citation key or record id
    title: str = ""
    why_not: str = ""  # for an entry without an arXiv id: what was looked for

    def describe(self) -> str:
        shown = [self.key] if self.key else []
        if self.title:
            shown.append(f"“{self.title}”")
        return " ".join(shown) or (self.paper_id or "")


@dataclass(frozen=True)
class ReadFile:
    """A file read: its format and references. Today's full CSV layout (papers with their own
    metadata) is imported by ``app.store.labels.import_labels_csv`` instead, so ``full_csv`` says so
    and ``references`` is empty."""

    name: str
    format: str
    references: list[Reference]
    full_csv: bool = False

    @property
    def unit(self) -> str:
        return UNITS[self.format]


def decode(data: bytes, *, name: str) -> str:
    """UTF-8 text (a byte-order mark dropped), or a DataError saying where it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(
            f"{name} line {line}: not UTF-8 text ({err.reason} at byte {err.start}); save it "
            "as UTF-8 (Zotero, Mendeley and arXiv export UTF-8)"
        ) from None


def detect_format(text: str, *, name: str) -> str:
    """The format by content: JSON is CSL-JSON, an ``@type{`` line BibTeX, a first line ``TY  -``
    RIS, a header naming ``paper_id`` a labelled CSV; else the file name's extension, else a
    list of ids."""
    text = text.removeprefix("\ufeff")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if text.lstrip().startswith(("[", "{")):
        return "csl-json"
    if _BIBTEX_ENTRY.search(text):
        return "bibtex"
    if lines and lines[0].startswith("TY  -"):
        return "ris"
    if lines and "paper_id" in (c.strip() for c in next(csv.reader([lines[0]]))):
        return "csv"
    return EXTENSIONS.get(Path(name).suffix.lower(), "ids")


def read_text(text: str, *, name: str, format: str | None = None) -> ReadFile:
    """The references of ``text`` (``name`` in messages) in ``format``, or the detected one."""
    text = text.removeprefix("\ufeff")
    chosen = format or detect_format(text, name=name)
    if chosen not in FORMATS:
        raise DataError(f"unknown format {chosen!r}; expected one of {', '.join(FORMATS)}")
    if chosen == "csv":
        return _read_csv(text, name)
    readers = {"ids": _read_ids, "bibtex": _read_bibtex, "csl-json": _read_csl, "ris": _read_ris}
    references = readers[chosen](text, name)
    if not references and chosen == "ids":
        raise DataError(
            f"{name}: no arXiv ids or URLs in it (expected one a line; blank lines and # "
            "comments are skipped)"
        )
    if not references:
        raise DataError(f"{name}: no {UNITS[chosen]} found in this {FORMAT_NAMES[chosen]} file")
    return ReadFile(name, chosen, references)


def read_file(path: Path, *, name: str | None = None, format: str | None = None) -> ReadFile:
    path = Path(path)
    name = name or str(path)
    if not path.is_file():
        raise DataError(f"{name} does not exist")
    return read_text(decode(path.read_bytes(), name=name), name=name, format=format)


def _shown(items: list[str]) -> str:
    text = ", ".join(items[:_SHOWN])
    return text + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


# ---- Lists of ids and URLs -------------------------------------------------------------------


def _read_ids(text: str, name: str) -> list[Reference]:
    references: list[Reference] = []
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.split(raw, maxsplit=1)[0].strip()
        if not line:
            continue
        paper_id = arxiv_id_of(line)
        if paper_id is None:
            bad.append((number, line))
        else:
            references.append(Reference(f"line {number}", paper_id))
    if bad:
        number, line = bad[0]
        more = f"; also lines {_shown([str(n) for n, _ in bad[1:]])}" if len(bad) > 1 else ""
        raise DataError(
            f"{name} line {number}: {line[:80]!r} is not an arXiv id or arXiv URL "
            f"(expected one per line, {ID_EXAMPLES}){more}"
        )
    return references


# ---- CSV -------------------------------------------------------------------------------------


def _read_csv(text: str, name: str) -> ReadFile:
    """Today's layout goes to ``import_labels_csv`` whole; ``paper_id,interest`` (and optionally
    ``labelled_at``) is read here, its papers to be fetched."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{name} is empty: expected a header line with paper_id,interest (and optionally "
            f"{', '.join(_PAPER_COLUMNS)}) and a row per labelled paper"
        ) from None
    except pd.errors.ParserError as err:
        raise DataError(f"cannot read {name} as CSV: {err}") from err
    frame.columns = [str(column).strip() for column in frame.columns]
    if any(column in frame.columns for column in _PAPER_COLUMNS):
        return ReadFile(name, "csv", [], full_csv=True)
    missing = [c for c in ("paper_id", "interest") if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: expected the columns paper_id,interest (the rest is fetched from arXiv) or "
            f"{','.join(COLUMNS)}, but {missing} are missing (found {list(frame.columns)})"
        )
    extra = [c for c in frame.columns if c not in ("paper_id", "interest", LABEL_TIME_COLUMN)]
    if extra:
        logger.info("%s: ignoring the columns %s (the papers' own come from arXiv)", name, extra)
    if frame.empty:
        raise DataError(f"{name}: no labelled rows")
    frame.insert(0, "line", range(2, len(frame) + 2))  # line 1 is the header
    frame["paper_id"] = frame["paper_id"].str.strip()
    frame = checked_ids(frame, source=name)
    interest = frame["interest"].str.strip()
    wrong = frame.loc[~interest.isin(["0", "1"])]
    if not wrong.empty:
        shown = [f"line {n} ({v!r})" for n, v in zip(wrong["line"], wrong["interest"], strict=True)]
        raise DataError(
            f"{name}: interest must be 0 or 1; {len(shown)} rows have other values: "
            + _shown(shown)
        )
    times = _label_times(frame, name)
    return ReadFile(
        name,
        "csv",
        [
            Reference(f"line {line}", paper_id, interest=int(value), labelled_at=time)
            for line, paper_id, value, time in zip(
                frame["line"], frame["paper_id"], interest, times, strict=True
            )
        ],
    )


def _label_times(frame: pd.DataFrame, name: str) -> list[dt.datetime | None]:
    if LABEL_TIME_COLUMN not in frame.columns:
        return [None] * len(frame)
    text = frame[LABEL_TIME_COLUMN].str.strip()
    times = pd.to_datetime(text.where(text != ""), utc=True, errors="coerce", format="mixed")
    bad = times.isna() & (text != "")
    if bad.any():
        rows = frame.loc[bad]
        shown = [f"line {n} ({v!r})" for n, v in zip(rows["line"], text[bad], strict=True)]
        raise DataError(
            f"{name}: unparsable {LABEL_TIME_COLUMN} in {len(shown)} rows (expected e.g. "
            f"2025-03-18T09:30:00+00:00, or empty): {_shown(shown)}"
        )
    return [None if pd.isna(t) else t.to_pydatetime() for t in times]


# ---- BibTeX ----------------------------------------------------------------------------------

_BIBTEX_WHERE = "an eprint with archivePrefix = {arXiv}, an arxiv.org URL, a 10.48550/arXiv DOI"


def _read_bibtex(text: str, name: str) -> list[Reference]:
    library = bibtexparser.parse_string(text)
    first_of = {entry.key: _line_of(entry) for entry in library.entries}
    located: list[tuple[int, Reference]] = []
    for block in library.failed_blocks:
        line = _line_of(block)
        if isinstance(block, bibtex.DuplicateBlockKeyBlock):
            # The same citation key twice: the first entry counts, the second is listed.
            located.append(
                (
                    line,
                    Reference(
                        f"line {line}",
                        None,
                        key=block.key,
                        why_not=f"a second entry with the citation key {block.key} (the first "
                        f"is on line {first_of.get(block.key, '?')})",
                    ),
                )
            )
            continue
        error = block.error
        why = getattr(error, "abort_reason", "") or str(error)
        raw = (block.raw or "").strip()
        opening = raw.splitlines()[0][:60] if raw else ""
        raise DataError(f"{name} line {line}: cannot read the BibTeX entry {opening!r}: {why}")
    for entry in library.entries:
        # The fields as written (a % in a URL is no LaTeX comment); the title read as LaTeX.
        fields = {key.lower(): _bibtex_text(f.value) for key, f in entry.fields_dict.items()}
        paper_id, why_not = _bibtex_arxiv_id(fields)
        line = _line_of(entry)
        located.append(
            (
                line,
                Reference(
                    f"line {line}",
                    paper_id,
                    key=entry.key,
                    title=_bibtex_title(entry, library),
                    why_not=why_not,
                ),
            )
        )
    return [reference for _, reference in sorted(located, key=lambda pair: pair[0])]


def _line_of(block: bibtex.Block) -> int:
    """A block's first line in the file, counted from 1 (bibtexparser counts from 0)."""
    return (block.start_line or 0) + 1


def _bibtex_title(entry: bibtex.Entry, library: bibtexparser.Library) -> str:
    """The title as a reader sees it (``d{\\'e}pos{\\'e}`` is déposé), for the report."""
    title = entry.fields_dict.get("title")
    if title is None:
        return ""
    alone = bibtex.Entry(entry.entry_type, entry.key, [bibtex.Field("title", title.value)])
    decoded = LatexDecodingMiddleware().transform_entry(alone, library)
    assert isinstance(decoded, bibtex.Entry)
    return _bibtex_text(decoded.fields_dict["title"].value)


def _bibtex_text(value: Any) -> str:
    """A field's text without BibTeX's braces, in one line."""
    return " ".join(str(value).replace("{", "").replace("}", "").split())


def _bibtex_arxiv_id(fields: Mapping[str, str]) -> tuple[str | None, str]:
    eprint = fields.get("eprint", "")
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    if eprint and archive == "arxiv":
        paper_id = arxiv_id_of(eprint)
        primary = fields.get("primaryclass", "")
        if paper_id is None and primary and re.fullmatch(r"\d{7}(v\d+)?", eprint):
            paper_id = arxiv_id_of(f"{primary}/{eprint}")  # the old eprint = {9901001} style
        if paper_id is not None:
            return paper_id, ""
        return None, f"eprint = {{{eprint}}} is not an arXiv id ({ID_EXAMPLES})"
    found = _first_named_id(fields, ("url", "doi", "journal", "note", "howpublished"))
    if found is not None:
        return found, ""
    if eprint:
        return None, f"eprint = {{{eprint}}} without archivePrefix = {{arXiv}}"
    return None, f"no arXiv id ({_BIBTEX_WHERE} or arXiv:ID in journal, note or howpublished)"


def _first_named_id(fields: Mapping[str, Any], names: Iterable[str]) -> str | None:
    for field in names:
        values = fields.get(field)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and (found := find_arxiv_id(str(value))):
                return found
    return None


# ---- CSL-JSON (Zotero, Mendeley) -------------------------------------------------------------


def _read_csl(text: str, name: str) -> list[Reference]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{name} line {err.lineno}: not JSON ({err.msg})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataError(
            f"{name}: expected a CSL-JSON list of items (Zotero: Export Library… → CSL JSON), "
            f"found a JSON {type(data).__name__}"
        )
    references = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataError(
                f"{name} item {index}: expected a CSL-JSON item (an object with title, URL, "
                f"DOI…), found a JSON {type(item).__name__}"
            )
        paper_id = _csl_arxiv_id(item)
        references.append(
            Reference(
                f"item {index}",
                paper_id,
                key=_csl_key(item),
                title=" ".join(str(item.get("title") or "").split()),
                why_not=""
                if paper_id
                else "no arXiv id (URL, DOI, number, archive_location or note naming one)",
            )
        )
    return references


def _csl_key(item: Mapping[str, Any]) -> str:
    """The item's citation key; Zotero's item URIs (``http://zotero.org/...``) say nothing."""
    key = str(item.get("citation-key") or item.get("id") or "")
    return "" if key.startswith(("http://", "https://")) else key


def _csl_arxiv_id(item: Mapping[str, Any]) -> str | None:
    archive = str(item.get("archive") or "").lower()
    location = str(item.get("archive_location") or "")
    if archive == "arxiv" and (paper_id := arxiv_id_of(location)):
        return paper_id
    return _first_named_id(item, ("URL", "DOI", "number", "archive_location", "note"))


# ---- RIS -------------------------------------------------------------------------------------
# A small reader of its own: rispy, the RIS library on PyPI, keeps no line numbers and silently
# drops a record that has no end (ER), which would lose a paper without a word.

_RIS_ID_TAGS = ("UR", "L1", "L2", "DO", "M3", "N1", "JO", "JF", "T2", "T3", "AN")


def _read_ris(text: str, name: str) -> list[Reference]:
    references = []
    for start, record in _ris_records(text, name):
        paper_id = _first_named_id(record, _RIS_ID_TAGS)
        title = (record.get("TI") or record.get("T1") or [""])[0]
        references.append(
            Reference(
                f"line {start}",
                paper_id,
                key=(record.get("ID") or [""])[0],
                title=" ".join(title.split()),
                why_not="" if paper_id else "no arXiv id (UR, DO, N1, M3, JO or T2 naming one)",
            )
        )
    return references


def _ris_records(text: str, name: str) -> list[tuple[int, dict[str, list[str]]]]:
    records: list[tuple[int, dict[str, list[str]]]] = []
    record: dict[str, list[str]] | None = None
    start = 0
    last_tag = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        match = _RIS_LINE.match(line)
        if match is None:
            if record is not None and last_tag:  # a long value wrapped onto the next line
                record[last_tag][-1] += " " + line.strip()
                continue
            raise DataError(
                f"{name} line {number}: {line[:60]!r} is not a RIS line (expected a tag such as "
                "'TY  - JOUR' that starts a record)"
            )
        tag, value = match[1], (match[2] or "").strip()
        if tag == "TY":
            if record is not None:
                raise DataError(
                    f"{name} line {number}: a new record (TY) starts before the one of line "
                    f"{start} ended (ER  - )"
                )
            record, start, last_tag = {"TY": [value]}, number, ""
        elif record is None:
            raise DataError(
                f"{name} line {number}: {tag} outside a record (expected 'TY  - ' to start one)"
            )
        elif tag == "ER":
            records.append((start, record))
            record, last_tag = None, ""
        else:
            record.setdefault(tag, []).append(value)
            last_tag = tag
    if record is not None:
        raise DataError(f"{name} line {start}: the record that starts here has no end (ER  - )")
    return records
