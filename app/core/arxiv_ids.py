"""arXiv identifiers, for every part of the service that meets one (no client, no storage)."""

from __future__ import annotations

import re

_VERSION_RE = re.compile(r"^(?P<id>.+?)(?:v(?P<version>\d+))?$")


def split_version(short_id: str) -> tuple[str, int]:
    """``2503.11742v2`` -> (``2503.11742``, 2); ids without a version are version 1."""
    match = _VERSION_RE.match(short_id)
    if match is None:  # pragma: no cover - the pattern matches any non-empty string
        raise ValueError(f"not an arXiv id: {short_id!r}")
    return match["id"], int(match["version"] or 1)


# New-style ids (2503.11742, 0704.0001) and old-style ones (hep-th/9901001, math.GT/0309136),
# each with an optional version suffix. A spreadsheet that took 2503.17900 for a number writes
# 2503.179: such ids are accepted as they are (the labels' own CSVs hold some).
ARXIV_ID_PATTERN = r"^(\d{4}\.\d{1,5}|[a-z]+(-[a-z]+)*(\.[A-Z]{2})?/\d{7})(v\d+)?$"
_ARXIV_ID = re.compile(ARXIV_ID_PATTERN)


def is_arxiv_id(text: str) -> bool:
    return bool(_ARXIV_ID.fullmatch(text))  # not before a trailing newline, as $ would


# How a reference names an arXiv paper (a line of a list, a BibTeX field, a Zotero note): an id,
# "arXiv:ID", an arxiv.org abs/pdf/html URL, or the DataCite DOI 10.48550/arXiv.ID. Ids met this
# way are complete ones (2503.11742, not a spreadsheet's 2503.117), and a bare number inside a
# longer text is never taken for one. The id part is case-sensitive; the rest is not.
_FULL_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?!\w)"
_URL = r"(?<![\w.-])(?i:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)"
_DOI = r"(?<![\w.-])(?i:(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:\s*)?10\.48550/arxiv\.)"
_PREFIX = r"(?i:arxiv:\s*)"
_NAMED_ID = re.compile(rf"(?:{_URL}|{_DOI}|{_PREFIX}){_FULL_ID}")
_ALONE = re.compile(
    rf"\s*(?:(?P<url>{_URL})|{_DOI}|{_PREFIX})?{_FULL_ID}(?P<tail>(?:\.pdf)?/?(?:[?#]\S*)?)\s*"
)


def arxiv_id_of(text: str) -> str | None:
    """The arXiv id, without its version, that ``text`` is on its own (``2503.11742v2``,
    ``arXiv:hep-th/9901001``, ``https://arxiv.org/pdf/2503.11742.pdf``, the DOI), else None."""
    match = _ALONE.fullmatch(text)
    if match is None or (match["tail"] and not match["url"]):  # ".pdf", "?query": URLs only
        return None
    return match["id"]


def find_arxiv_id(text: str) -> str | None:
    """The first arXiv id that ``text`` names by URL, DOI or ``arXiv:`` (as in Google Scholar's
    ``journal = {arXiv preprint arXiv:1706.03762}``), without its version; else None."""
    match = _NAMED_ID.search(text)
    return match["id"] if match else None
