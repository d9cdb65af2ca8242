"""``arxiv-reco readers`` (issue 20): made, listed, given new tokens, an address, and removed by
whoever runs the install; ``topics --reader`` works on a reader's topics."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from app.cli import main
from app.store.readers import hash_token
from app.store.schema import Reader
from tests.conftest import LABELS_CSV


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARXIV_RECO_DATABASE_URL", settings.resolved_database_url)
    return settings


def _token(out: str) -> str:
    found = re.search(r": (\S+)\s*$", out.strip())
    assert found, out
    return found.group(1)


def test_readers_from_the_command_line(cli, sessions, capsys):
    assert main(["readers", "list"]) == 0
    assert "no readers yet" in capsys.readouterr().out
    assert main(["labels", "import", str(LABELS_CSV)]) == 0
    assert main(["readers", "add", "Ada", "--email", "ada@example.org"]) == 0
    out = capsys.readouterr().out
    assert "take the install's topics, labels and models" in out
    ada = _token(out)
    with sessions() as session:
        stored = session.get_one(Reader, 1)
        assert (stored.name, stored.token_hash) == ("ada", hash_token(ada))
        assert ada not in str(stored.token_hash)
    assert main(["readers", "add", "grace"]) == 0
    grace = _token(capsys.readouterr().out)
    assert main(["topics", "--reader", "grace", "add", "robots"]) == 0
    assert main(["topics", "--reader", "grace", "list"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == [
        "default",
        "robots",
    ]
    assert main(["topics", "list"]) == 0  # the first reader's, with the imported labels
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split()[:2] == ["default", str(len(pd.read_csv(LABELS_CSV)))]

    assert main(["readers", "token", "grace"]) == 0
    renewed = _token(capsys.readouterr().out)
    assert renewed != grace
    assert main(["readers", "email", "grace", "grace@example.org"]) == 0
    assert "grace's digest goes to grace@example.org" in capsys.readouterr().out
    assert main(["readers", "list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[1], r[-1]) for r in rows] == [
        ("ada", "1", "ada@example.org"),
        ("grace", "2", "grace@example.org"),
    ]
    with pytest.raises(SystemExit, match="readers email: 'nope' is not an email address"):
        main(["readers", "email", "grace", "nope"])
    with pytest.raises(SystemExit, match="readers add: a reader named 'grace' exists already"):
        main(["readers", "add", "GRACE"])
    with pytest.raises(SystemExit, match="readers remove: 'ada' is the first reader"):
        main(["readers", "remove", "ada", "--yes"])
    with pytest.raises(SystemExit, match="not removed: give --yes"):
        main(["readers", "remove", "grace"])  # no terminal to ask
    assert main(["readers", "remove", "grace", "--yes"]) == 0
    assert "removed the reader grace with 2 topics" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="readers token: no reader 'grace'"):
        main(["readers", "token", "grace"])
    with pytest.raises(SystemExit, match="topics list: no reader 'grace'"):
        main(["topics", "--reader", "grace", "list"])
