"""Real arXiv API answers recorded in tests/fixtures/arxiv_api, read back for the stand-in: a
recorded paper as a stand-in catalog entry, and a feed reduced to what must match."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

from app.core.arxiv_ids import split_version
from app.demo.standin import Entry

RECORDED = Path(__file__).parent / "fixtures" / "arxiv_api"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def recorded_entries(name: str) -> list[Entry]:
    """The papers of a recorded feed, as the stand-in's catalog holds papers."""
    root = ET.parse(RECORDED / name).getroot()
    entries = []
    for element in root.iter(f"{ATOM}entry"):
        paper_id, version = split_version(element.findtext(f"{ATOM}id", "").split("/abs/")[-1])
        entries.append(
            Entry(
                id=paper_id,
                version=version,
                title=element.findtext(f"{ATOM}title", ""),
                summary=element.findtext(f"{ATOM}summary", ""),
                authors=[a.findtext(f"{ATOM}name", "") for a in element.iter(f"{ATOM}author")],
                categories=[c.get("term", "") for c in element.iter(f"{ATOM}category")],
                published=_time(element.findtext(f"{ATOM}published", "")),
                updated=_time(element.findtext(f"{ATOM}updated", "")),
                comment=element.findtext(f"{ARXIV}comment"),
                journal_ref=element.findtext(f"{ARXIV}journal_ref"),
                doi=element.findtext(f"{ARXIV}doi"),
            )
        )
    return entries


def feed_shape(xml: str | bytes) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    """Every element in order with its attributes and text, but the feed's own id and time (a
    hash and a clock on arXiv's side) and what the stand-in cannot know (affiliations)."""
    root = ET.fromstring(xml)
    volatile = {id(root.find(f"{ATOM}id")), id(root.find(f"{ATOM}updated"))}
    for entry in root.iter(f"{ATOM}entry"):
        if entry.findtext(f"{ATOM}title") == "Error":  # an error feed's times are the clock's
            volatile.add(id(entry.find(f"{ATOM}updated")))
    return [
        (
            element.tag,
            tuple(sorted(element.attrib.items())),
            "" if id(element) in volatile else (element.text or "").strip(),
        )
        for element in root.iter()
        if element.tag != f"{ARXIV}affiliation"
    ]
