"""``python -m training``: the same as ``arxiv-reco train``."""

from __future__ import annotations

import sys

from training.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
