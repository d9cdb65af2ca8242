"""bench/recipes.py on the fixture's last three days: every recipe but the embeddings' runs and
scores each day's papers, and the figures are well formed."""

from __future__ import annotations

import json

from bench import recipes
from tests.conftest import LABELS_CSV


def test_the_recipes_replay_the_last_days(tmp_path, capsys):
    out = tmp_path / "recipes.json"
    recipes.main(
        [
            "--data",
            str(LABELS_CSV),
            "--days",
            "3",
            "--recipes",
            "grid,C=1,stack",
            "--json",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert list(result["results"]) == ["grid", "C=1", "stack"]
    assert len(result["days"]) == 3
    for figures in result["results"].values():
        assert 0 <= figures["average_precision"] <= 1 and 0 <= figures["precision_at_10"] <= 1
        assert figures["papers"] > 0 and figures["positives"] > 0
    assert "| stack |" in capsys.readouterr().out
