"""``python -m app.cli``: the same as ``arxiv-reco``."""

import sys

from app.cli import main

sys.exit(main())
