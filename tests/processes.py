"""Commands run as a user runs them: in a fresh Python process, which shows what they import."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``python -X importtime *args``: the result, its stderr without the import lines, and the
    names of the modules the process imported. ``env`` is added to this process's environment,
    less its ``ARXIV_RECO_`` settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARXIV_RECO_")}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    result.stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return result, imported
