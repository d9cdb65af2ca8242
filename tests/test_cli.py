from __future__ import annotations

import pytest

from app.cli import main


@pytest.fixture
def env(monkeypatch, settings):
    for name, value in {
        "DATA_DIR": str(settings.data_dir),
        "ARXIV_API_URL": settings.arxiv_api_url,
        "REQUEST_DELAY_SECONDS": "0",
        "RETRY_BACKOFF_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(f"ARXIV_RECO_{name}", value)


def test_ingest_a_range_by_hand(env, capsys):
    assert main(["ingest", "--date", "2025-03-19", "--to", "2025-03-21"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["day", "status", "fetched", "new", "updated", "scored"]
    assert [line.split()[:2] for line in out[1:]] == [
        ["2025-03-19", "success"],
        ["2025-03-20", "success"],
        ["2025-03-21", "success"],
    ]
    assert main(["ingest", "--date", "2025-03-19"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3:5] == ["0", "0"]


def test_a_failed_ingest_exits_non_zero(env, standin, capsys):
    standin.inject(*["503"] * 10)
    assert main(["ingest", "--date", "2025-03-19"]) == 1
    assert "HTTP 503" in capsys.readouterr().out


def test_an_inverted_range_is_refused(env):
    with pytest.raises(SystemExit, match="before"):
        main(["ingest", "--date", "2025-03-21", "--to", "2025-03-19"])
