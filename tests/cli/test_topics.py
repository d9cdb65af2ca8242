"""``arxiv-reco topics`` and ``--topic`` on ``labels import|export`` (issue 19)."""

from __future__ import annotations

import pandas as pd
import pytest

from app.cli import main
from tests.conftest import LABELS_CSV


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    return settings


def test_topics_from_the_command_line(cli, tmp_path, capsys):
    assert main(["topics", "add", "Robots"]) == 0
    assert main(["labels", "import", "--topic", "robots", str(LABELS_CSV)]) == 0
    capsys.readouterr()
    assert main(["topics", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    labelled = len(pd.read_csv(LABELS_CSV))
    assert listed[1].split() == ["default", "0", "none"]
    assert listed[2].split() == ["robots", str(labelled), "none"]

    exported = tmp_path / "robots.csv"
    assert main(["labels", "export", "--topic", "ROBOTS", str(exported)]) == 0
    assert len(pd.read_csv(exported)) == labelled
    assert main(["labels", "export", str(tmp_path / "default.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "default.csv")) == 0

    assert main(["topics", "add", "evals"]) == 0
    assert main(["topics", "move", "evals", "0"]) == 0
    assert "moved the topic evals: evals, default, robots" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["topics", "move", "evals", "-1"])
    assert main(["topics", "rename", "robots", "robot-learning"]) == 0
    with pytest.raises(SystemExit, match="labels export: no topic 'robots'"):
        main(["labels", "export", "--topic", "robots"])
    with pytest.raises(SystemExit, match="not deleted: give --yes"):
        main(["topics", "delete", "robot-learning"])  # no terminal to ask
    saved = tmp_path / "saved.csv"
    assert main(["topics", "delete", "robot-learning", "--yes", "--export", str(saved)]) == 0
    assert f"exported {labelled} labels to {saved}" in capsys.readouterr().out
    assert len(pd.read_csv(saved)) == labelled
    with pytest.raises(SystemExit, match="topics delete: the topic 'default' takes every"):
        main(["topics", "delete", "default", "--yes"])
    with pytest.raises(SystemExit, match="topics add: topic name 'two words' is not a slug"):
        main(["topics", "add", "two words"])
