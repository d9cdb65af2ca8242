"""The command line: options, config files, plain errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.processes import run_python
from training.cli import BAD_INPUT, evaluate_main, parse_train_args, train_main
from training.config import ConfigError, TrainConfig, read_config_file
from training.inference.artifact import META_FILE, TRAIN_CONFIG_FILE, ModelMeta

ARGS = ["--method", "tfidf", "--no-progress", "--c-grid", "1"]


def test_defaults_follow_the_notebook_but_512_tokens(tmp_path: Path) -> None:
    config = TrainConfig(output=str(tmp_path / "m"), data="x.csv")
    assert config.base_model == "answerdotai/ModernBERT-base"
    assert (config.epochs, config.learning_rate, config.weight_decay) == (7.0, 5e-6, 0.05)
    assert (config.warmup_ratio, config.batch_size, config.max_length) == (0.1, 32, 512)
    assert (config.val_fraction, config.test_fraction) == (0.2, 0.2)
    assert config.method == "finetune" and config.threshold_strategy == "f1"
    assert config.checkpoint_path == tmp_path / "m.checkpoints"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"output": ""}, r"--output is required"),
        ({"method": "svm"}, r"--method must be one of \['finetune', 'tfidf', 'embed'\], got 'svm'"),
        ({"val_fraction": 1.5}, r"--val-fraction must be between 0 and 1, got 1.5"),
        ({"val_fraction": 0.5, "test_fraction": 0.45}, r"must leave at least 10% to train"),
        ({"text_fields": ["body"]}, r"--text-fields must be distinct names from"),
        (
            {"meta_fields": ["authors", "doi"]},
            r"--meta-fields must be distinct names from \['authors', 'categories', 'comment'\] "
            r"or none, got \['authors', 'doi'\]",
        ),
        ({"meta_weight": 0.0}, r"--meta-weight must be positive, got 0.0"),
        ({"batch_size": 0}, r"--batch-size must be at least 1, got 0"),
        ({"learning_rate": -1.0}, r"--learning-rate must be in \(0, 1\), got -1.0"),
        ({"max_steps": 0}, r"--max-steps must be -1 or positive, got 0"),
        ({"threshold_strategy": "precision"}, r"precision needs --threshold-target"),
        (
            {"threshold_strategy": "recall", "threshold_target": 2.0},
            r"--threshold-target for recall must be in \(0, 1\], got 2.0",
        ),
        ({"threshold_target": 0.5}, r"--threshold-target is only used with precision"),
        ({"c_grid": [1.0, -1.0]}, r"--c-grid must be positive numbers, got \[1.0, -1.0\]"),
    ],
)
def test_bad_arguments_say_what_is_wrong(overrides: dict, message: str) -> None:
    values = {"output": "models/x", "data": "labels.csv", **overrides}
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**values)


def test_config_file_supplies_arguments_and_the_command_line_wins(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(
        yaml.safe_dump(
            {"data": "labels.csv", "output": "models/a", "method": "embed", "learning-rate": 3e-5}
        )
    )
    (config,) = parse_train_args(["--config", str(path), "--output", "models/b"])
    assert (config.data, config.method, config.output) == ("labels.csv", "embed", "models/b")
    assert config.learning_rate == 3e-5


def test_meta_fields_on_the_command_line_and_in_a_config_file(tmp_path: Path) -> None:
    base = ["--data", "x.csv", "--output", "models/m", "--method", "tfidf"]
    assert parse_train_args(base)[0].meta_fields == ["authors", "comment"]
    assert parse_train_args([*base, "--meta-fields", "none"])[0].meta_fields == []
    (chosen,) = parse_train_args([*base, "--meta-fields", "categories", "authors"])
    assert chosen.meta_fields == ["categories", "authors"]
    assert parse_train_args([*base, "--meta-weight", "0.25"])[0].meta_weight == 0.25
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"meta_fields": []}))
    assert parse_train_args(["--config", str(path), *base])[0].meta_fields == []


def test_config_file_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "bad.json"
    unknown.write_text(json.dumps({"data": "x.csv", "epoch": 3}))
    with pytest.raises(ConfigError, match=r"bad.json: unknown arguments \['epoch'\]"):
        read_config_file(unknown)
    toml = tmp_path / "train.toml"
    toml.write_text("x = 1")
    with pytest.raises(ConfigError, match=r"expected a .json, .yaml or .yml file"):
        read_config_file(toml)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match=r"cannot parse config file .*broken.json"):
        read_config_file(broken)


def test_train_and_evaluate_commands(
    sample_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "models" / "cli"
    assert train_main(["--data", str(sample_csv), "--output", str(output), *ARGS]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {output}" in printed and "| average precision |" in printed
    saved = json.loads((output / TRAIN_CONFIG_FILE).read_text())
    assert saved["c_grid"] == [1.0]
    # The library's own config: nothing of the service's database in it.
    assert not {"no_register", "activate", "database_url", "from_db", "name"} & set(saved)
    meta = ModelMeta.load(output)

    report = tmp_path / "eval.json"
    assert evaluate_main([str(output), "--data", str(sample_csv), "--json", str(report)]) == 0
    assert "| labels_sample.csv |" in capsys.readouterr().out
    metrics = json.loads(report.read_text())
    assert metrics["threshold"] == meta.threshold
    assert metrics["rows"] == 300


def test_training_alone_needs_a_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["--output", str(tmp_path / "m"), *ARGS]) == BAD_INPUT
    assert "no training data: give --data labels.csv" in capsys.readouterr().err


def test_bad_data_exits_2_without_a_traceback(
    write_csv, sample_rows, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [dict(row) for row in sample_rows[:30]]
    rows[4]["interest"] = "maybe"
    path = write_csv(rows)
    code = train_main(["--data", str(path), "--output", str(tmp_path / "m"), *ARGS])
    err = capsys.readouterr().err
    assert code == BAD_INPUT
    assert "python -m training: error:" in err
    assert "line 6 ('maybe')" in err
    assert "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_bad_option_values_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data", "x.csv", "--output", str(tmp_path / "m"), "--val-fraction", "2"]
    assert train_main(argv) == BAD_INPUT
    assert "--val-fraction must be between 0 and 1, got 2.0" in capsys.readouterr().err
    assert train_main(["--epochs", "many"]) == BAD_INPUT
    assert "invalid float value: 'many'" in capsys.readouterr().err
    assert train_main(["--method", "svm"]) == BAD_INPUT
    assert "invalid choice" in capsys.readouterr().err


def test_existing_output_exits_2(sample_csv: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "m"
    output.mkdir()
    (output / META_FILE).write_text("{}")
    assert train_main(["--data", str(sample_csv), "--output", str(output), *ARGS]) == BAD_INPUT
    assert "already exists; choose another --output or --overwrite" in capsys.readouterr().err


def test_evaluate_errors_exit_2(sample_csv: Path, tmp_path: Path, capsys) -> None:
    assert evaluate_main([str(tmp_path), "--data", str(sample_csv)]) == BAD_INPUT
    assert f"{tmp_path} is not a model directory: {META_FILE} is missing" in capsys.readouterr().err
    assert evaluate_main([str(tmp_path), "--data", str(tmp_path / "none.csv")]) == BAD_INPUT
    assert "none.csv does not exist" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as read, whatever the terminal's width
    assert "--threshold-strategy {f1,precision,recall,per_day}" in out and "best f1" in out
    assert "[-h] --output DIR [--data CSV]" in out  # required, so not in brackets
    assert "e.g. models/my-model. (required)" in out
    # A negated switch says what it does, not what its positive twin does.
    assert "--no-progress Hide progress bars." in out
    assert "--no-class-weights Weigh every label alike in the loss." in out
    assert "--progress Show progress bars. (default)" in out
    assert "(default: title abstract)" in out and "(default: None)" not in out


def test_evaluate_help_marks_data_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[-h] --data CSV" in out and "(paper_id,...). (required)" in out


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["-m", "training", "--help"], 0), (["-m", "training", "--method", "svm"], BAD_INPUT)],
)
def test_the_command_line_is_read_before_torch_loads(argv: list[str], code: int) -> None:
    result, imported = run_python(*argv)
    assert result.returncode == code, result.stderr
    assert not {"torch", "transformers"} & imported
    if code == BAD_INPUT:
        assert "argument --method: invalid choice: 'svm'" in result.stderr


def test_parsing_a_whole_command_line_loads_neither_torch_nor_pandas() -> None:
    result, imported = run_python(
        "-c",
        "from training.cli import parse_train_args\n"
        "parse_train_args(['--data', 'x.csv', '--output', 'm', '--method', 'tfidf'])",
    )
    assert result.returncode == 0, result.stderr
    assert not {"torch", "transformers", "pandas"} & imported


def test_underscored_spellings_and_switches_still_parse() -> None:
    (config,) = parse_train_args(
        [
            "--output", "m", "--data", "x.csv", "--threshold_strategy", "precision",
            "--threshold-target", "0.5", "--no_progress", "--no-class-weights", "--resume",
            "--c_grid", "1", "10", "--max-steps", "3",
        ]
    )  # fmt: skip
    assert (config.threshold_strategy, config.threshold_target) == ("precision", 0.5)
    assert (config.progress, config.class_weights, config.resume) == (False, False, True)
    assert (config.c_grid, config.max_steps, config.overwrite) == ([1.0, 10.0], 3, False)


def test_a_config_file_may_give_the_required_output(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"output": "models/a", "progress": False}))
    (config,) = parse_train_args(["--config", str(path)])
    assert (config.output, config.progress) == ("models/a", False)
    path.write_text(json.dumps({"output": "models/a", "resume": "yes", "overwrite": "false"}))
    (config,) = parse_train_args(["--config", str(path)])
    assert (config.resume, config.overwrite) == (True, False)
    path.write_text(json.dumps({"output": "models/a", "resume": "perhaps"}))
    with pytest.raises(
        ConfigError, match=r"train.json: resume must be true or false, got 'perhaps'"
    ):
        parse_train_args(["--config", str(path)])
    path.write_text(json.dumps({"output": "models/a", "precision": "fp8"}))
    with pytest.raises(ConfigError, match=r"train.json: precision must be one of .*got 'fp8'"):
        parse_train_args(["--config", str(path)])


def test_unknown_options_and_a_missing_output_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["--output", "m", "--epoch-count", "3"]) == BAD_INPUT
    assert "unrecognized arguments: --epoch-count 3" in capsys.readouterr().err
    assert train_main(["--data", "x.csv"]) == BAD_INPUT
    assert "the following arguments are required: --output" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content", ["", "paper_id,title,abstract,categories,submission_date,interest\n"]
)
def test_an_empty_csv_is_one_line_naming_the_file(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    assert train_main(["--data", str(path), "--output", str(tmp_path / "m"), *ARGS]) == BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"python -m training: error: {path}")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
