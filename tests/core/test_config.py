from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.cli import main
from app.core.config import Settings


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = Settings(_env_file=None)
    assert settings.categories == ["cs.AI", "cs.CL", "cs.LG"]
    home = tmp_path / "xdg" / "arxiv-reco"  # the user's data directory, not the working one
    assert settings.resolved_database_url == f"sqlite:///{home}/arxiv_reco.db"
    assert settings.resolved_model_dir == home / "models"
    assert settings.lookback_days == 3 and settings.api_token is None


def test_a_relative_data_dir_is_fixed_at_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", "here")
    settings = Settings(_env_file=None)
    monkeypatch.chdir("/")
    assert settings.data_dir == tmp_path / "here"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/here/arxiv_reco.db"


def test_environment_values_are_read_with_the_prefix(monkeypatch):
    monkeypatch.setenv("ARXIV_RECO_CATEGORIES", "cs.IR, hep-th")
    monkeypatch.setenv("ARXIV_RECO_API_TOKEN", "s3cret")
    settings = Settings(_env_file=None)
    assert settings.categories == ["cs.IR", "hep-th"]
    assert settings.api_token is not None and settings.api_token.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("categories", "cs.AI,not a category", "'not a category' is not an arXiv category"),
        ("categories", "cs.AI,cs.XX", "'cs.XX' is not an arXiv category"),
        ("categories", "cs.lg", r"did you mean cs\.LG\?"),
        ("categories", "cs", "'cs' is not an arXiv category"),
        ("categories", "", "at least one arXiv category"),
        ("schedule_cron", "every day", "not a crontab expression"),
        ("arxiv_api_url", "export.arxiv.org", "expected an http"),
        ("page_size", "0", "greater than or equal to 1"),
        ("device", "tpu", "'auto', 'cuda', 'mps' or 'cpu'"),
    ],
)
def test_a_bad_value_names_the_setting(monkeypatch, field, value, message):
    monkeypatch.setenv(f"ARXIV_RECO_{field.upper()}", value)
    with pytest.raises(ValidationError, match=message) as info:
        Settings(_env_file=None)
    assert field in str(info.value)


def test_the_cli_refuses_bad_settings_with_the_variable_name(monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_RECO_LOOKBACK_DAYS", "0")
    with pytest.raises(SystemExit) as info:
        main(["migrate"])
    assert "ARXIV_RECO_LOOKBACK_DAYS" in str(info.value.code)


def test_the_cli_names_a_bad_date(capsys):
    with pytest.raises(SystemExit):
        main(["ingest", "--date", "2025-02-30"])
    assert "not a date (YYYY-MM-DD): '2025-02-30'" in capsys.readouterr().err
