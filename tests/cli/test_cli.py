from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.core.db import session_scope
from app.serving.registry import active_model, version_threshold
from app.store.labels import import_labels_csv
from app.store.topics import create_topic
from tests.conftest import LABELS_CSV
from tests.processes import run_python
from training.inference.artifact import ModelMeta


@pytest.fixture
def env(monkeypatch, settings):
    for name, value in {
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.resolved_database_url,
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


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2025-03-21", "2025-03-19", "before the first day"),
        ("2025-03-21", "2099-12-31", "2099-12-31 is in the future"),
        ("1991-01-01", "2025-03-19", "more than 92 .*ARXIV_RECO_MAX_INGEST_DAYS"),
    ],
)
def test_a_range_that_will_not_be_ingested_is_refused_by_name(env, first, last, message):
    with pytest.raises(SystemExit, match=f"nothing ingested: .*{message}"):
        main(["ingest", "--date", first, "--to", last])


TFIDF = ["--method", "tfidf", "--no-progress", "--c-grid", "1"]


def test_train_registers_after_training_and_activates(env, sessions, tmp_path: Path, capsys):
    output = tmp_path / "m"
    argv = ["train", "--data", str(LABELS_CSV), "--output", str(output), *TFIDF]
    assert main([*argv, "--activate", "--name", "v1"]) == 0
    captured = capsys.readouterr()
    assert "registered as model version 1 of the topic default (active)" in captured.out
    assert "train this model only" in captured.err  # a CSV given to train is not stored
    with sessions() as session:
        active = active_model(session)
        assert active is not None and active.name == "v1"
        assert Path(active.path) == output.resolve()
        assert version_threshold(active) == pytest.approx(ModelMeta.load(output).threshold)


def test_train_from_the_stored_labels(env, sessions, tmp_path: Path, capsys):
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
    output = tmp_path / "from-db"
    assert main(["train", "--from-db", "--output", str(output), *TFIDF, "--no-register"]) == 0
    assert "registered" not in capsys.readouterr().out
    meta = ModelMeta.load(output)
    assert meta.info["data_source"] == "the service's labels in the topic default"
    assert meta.info["rows"] == 300
    with sessions() as session:
        assert active_model(session) is None


def test_train_from_a_topics_labels_registers_it_there(env, sessions, tmp_path: Path, capsys):
    with session_scope(sessions) as session:
        robots = create_topic(session, "robots").id
        import_labels_csv(session, LABELS_CSV, topic_id=robots)
    output = tmp_path / "robots"
    argv = ["train", "--from-db", "--topic", "Robots", "--output", str(output), *TFIDF]
    assert main([*argv, "--activate"]) == 0
    assert "of the topic robots (active)" in capsys.readouterr().out
    assert ModelMeta.load(output).info["data_source"] == (
        "the service's labels in the topic robots"
    )
    with sessions() as session:
        assert active_model(session) is None  # the default topic's
        assert Path(active_model(session, topic_id=robots).path) == output.resolve()
    assert main(["train", "--from-db", "--topic", "nope", "--output", str(tmp_path / "x")]) == 2
    assert "--topic: no topic 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--output", "m"], "no training data: give --data labels.csv or --from-db"),
        (["--output", "m", "--data", "x.csv", "--from-db"], "either --data CSV or --from-db"),
        (
            ["--output", "m", "--data", "x.csv", "--activate", "--no-register"],
            "--activate needs registration",
        ),
        (
            ["--output", "m", "--data", "x.csv", "--topic", "a", "--no-register"],
            "--topic names where the labels come from or where it is registered",
        ),
    ],
)
def test_train_refuses_contradictory_options(env, argv, message, capsys):
    assert main(["train", *argv, *TFIDF]) == 2
    assert message in capsys.readouterr().err


def test_a_port_out_of_range_is_refused_before_anything_starts(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "99999"])
    assert exit_.value.code == 2
    assert "port must be between 1 and 65535, got 99999" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--workers", "0"])
    assert exit_.value.code == 2
    assert "argument --workers: must be between 1 and 64, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["train", "--help"], 0, "--no-progress Hide progress bars."),
        (["train", "--method", "svm"], 2, "argument --method: invalid choice: 'svm'"),
        (["evaluate", "--help"], 0, "--data CSV"),
    ],
)
def test_train_and_evaluate_answer_before_torch_loads(tmp_path: Path, argv, code, said):
    result, imported = run_python(
        "-m", "app.cli", *argv, env={"ARXIV_RECO_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == code, result.stderr
    assert said in " ".join((result.stdout + result.stderr).split())
    assert not {"torch", "transformers", "sqlalchemy"} & imported


def test_an_up_to_date_database_is_migrated_without_a_word(tmp_path: Path):
    env = {"ARXIV_RECO_DATA_DIR": str(tmp_path)}
    first, _ = run_python("-m", "app.cli", "labels", "export", "a.csv", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    # A new database: a line per revision applied, and nothing of alembic's own.
    assert "schema empty -> 0001 (initial schema)" in first.stderr
    assert "alembic" not in first.stderr
    again, _ = run_python("-m", "app.cli", "labels", "export", "b.csv", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "alembic" not in again.stderr and "schema" not in again.stderr
