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
