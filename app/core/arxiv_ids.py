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
