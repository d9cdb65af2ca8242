"""train() end to end: a complete artifact that the service's loader scores with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import average_precision_score

from tests.factories import with_metadata
from tests.training.conftest import tiny_finetune_settings
from training.config import ConfigError, TrainConfig
from training.inference.artifact import (
    EMBED_CLASSIFIER_FILE,
    ENCODER_DIR,
    META_FILE,
    MODEL_CARD_FILE,
    PR_CURVE_FILE,
    ROWS_FILE,
    TFIDF_PIPELINE_FILE,
    TRAIN_CONFIG_FILE,
    ModelMeta,
)
from training.inference.layout import load_labelled_csv, paper_inputs
from training.inference.predictor import load_predictor, score_papers
from training.split import split_by_date
from training.train import train

COMMON_FILES = {META_FILE, MODEL_CARD_FILE, PR_CURVE_FILE, TRAIN_CONFIG_FILE, ROWS_FILE}


def _check_artifact(path: Path, method: str, frame: pd.DataFrame) -> ModelMeta:
    meta = ModelMeta.load(path)
    assert meta.method == method
    assert 0.0 <= meta.threshold <= 1.0
    info = meta.info
    assert info["data_hash"].startswith("sha256:")
    assert info["seed"] == 42
    assert {"torch", "transformers", "scikit-learn"} <= set(info["versions"])
    assert info["splits"]["test"]["rows"] == 60
    assert info["splits"]["train"]["last_date"] <= info["splits"]["validation"]["first_date"]
    for split in ("validation", "test"):
        metrics = meta.metrics[split]
        for key in ("average_precision", "roc_auc", "precision", "recall", "f1"):
            assert 0.0 <= metrics[key] <= 1.0, (split, key)
        assert metrics["threshold"] == meta.threshold
        assert metrics["recommended_per_day"] >= 0
        assert "optimistic_best_f1" in metrics
    card = (path / MODEL_CARD_FILE).read_text(encoding="utf-8")
    assert "optimistic" in card and f"{meta.threshold:.4f}" in card
    with Image.open(path / PR_CURVE_FILE) as image:
        assert image.size[0] > 100
    saved = json.loads((path / TRAIN_CONFIG_FILE).read_text(encoding="utf-8"))
    assert saved["method"] == method and TrainConfig(**saved).method == method

    # The reported figures are those of the split model's scores, kept beside the model.
    validation = split_by_date(frame).validation
    rows = pd.read_csv(path / ROWS_FILE, dtype={"paper_id": str})
    kept = rows[rows["split"] == "validation"]
    assert kept["paper_id"].tolist() == validation["paper_id"].tolist()
    ap = average_precision_score(validation["interest"], kept["score"])
    assert ap == pytest.approx(meta.metrics["validation"]["average_precision"], abs=1e-4)
    # The service's loader scores with what is served: the split model itself, or its refit on
    # every label (which has seen validation, so it ranks it at least as well).
    predictor = load_predictor(path, device="cpu", precision="fp32")
    scores = score_papers(predictor, paper_inputs(validation))
    assert scores.shape == (60,)
    assert np.all((scores >= 0) & (scores <= 1))
    served_ap = average_precision_score(validation["interest"], scores)
    if meta.info["served_model"]["fit_on"] == "all labels":
        assert served_ap >= ap - 1e-4
    else:
        assert served_ap == pytest.approx(ap, abs=1e-4)
    assert not list(path.parent.glob(f".{path.name}.*")), "temporary directories left behind"
    return meta


def test_tfidf_writes_a_complete_artifact(make_config, sample_frame) -> None:
    result = train(make_config(method="tfidf"))
    assert {p.name for p in result.path.iterdir()} == COMMON_FILES | {TFIDF_PIPELINE_FILE}
    meta = _check_artifact(result.path, "tfidf", sample_frame)
    assert meta.info["hyperparameters"]["C"] == 1.0


def test_tfidf_reads_authors_and_comment_when_the_data_has_them(
    make_config, sample_frame, tmp_path: Path
) -> None:
    frame = with_metadata(sample_frame)
    result = train(make_config(output=str(tmp_path / "meta")), frame=frame)
    meta = _check_artifact(result.path, "tfidf", frame)
    assert meta.meta_fields == ["authors", "comment"]
    assert meta.info["hyperparameters"]["meta_fields"] == ["authors", "comment"]
    assert meta.info["hyperparameters"]["meta_weight"] == 0.5
    assert set(meta.info["fit"]["vocabulary_by_field"]) == {"text", "authors", "comment"}
    card = (result.path / MODEL_CARD_FILE).read_text(encoding="utf-8")
    assert "title + abstract and, each as a TF-IDF block of its own, its authors, comment" in card

    text_only = train(make_config(output=str(tmp_path / "text"), meta_fields=[]), frame=frame)
    assert text_only.meta.meta_fields == []
    validation_ap = {
        name: r.metrics["validation"]["average_precision"]
        for name, r in (("meta", result), ("text", text_only))
    }
    assert validation_ap["meta"] > validation_ap["text"] + 0.05, validation_ap


def test_metadata_that_is_missing_or_too_sparse_is_left_out_and_recorded(
    make_config, sample_frame, tmp_path: Path
) -> None:
    # The fixture CSV has no authors or comment column: the text and categories remain.
    result = train(make_config(meta_fields=["categories", "authors", "comment"]))
    meta = result.meta
    assert meta.meta_fields == ["categories"]
    assert meta.info["fit"]["meta_fields_left_out"] == {
        "authors": "empty in every training row",
        "comment": "empty in every training row",
    }
    card = (result.path / MODEL_CARD_FILE).read_text(encoding="utf-8")
    assert "metadata left out: authors: empty in every training row" in card
    _check_artifact(result.path, "tfidf", sample_frame)

    # Each name once: none reaches min_df=2, so there is no vocabulary to learn from.
    unique = sample_frame.assign(authors=[f"Author {i}" for i in range(len(sample_frame))])
    sparse = train(make_config(output=str(tmp_path / "sparse")), frame=unique)
    assert sparse.meta.meta_fields == []
    left_out = sparse.meta.info["fit"]["meta_fields_left_out"]
    assert left_out["authors"].startswith("no vocabulary")


def test_embed_with_the_tiny_encoder(make_config, sample_frame, tiny_base: Path) -> None:
    config = make_config(method="embed", base_model=str(tiny_base), max_length=64)
    result = train(config)
    assert {p.name for p in result.path.iterdir()} == COMMON_FILES | {
        EMBED_CLASSIFIER_FILE,
        ENCODER_DIR,
    }
    assert (result.path / ENCODER_DIR / "config.json").is_file()
    meta = _check_artifact(result.path, "embed", sample_frame)
    assert meta.max_length == 64
    assert meta.base_model == str(tiny_base)


def test_finetune_tiny_modernbert_and_resume(
    make_config, sample_frame, tiny_base: Path, tmp_path: Path
) -> None:
    """Fine-tune for two steps (a complete artifact), then resume that run to four steps."""
    checkpoints = tmp_path / "ckpt"
    settings = tiny_finetune_settings(tiny_base)
    first = make_config(
        **{**settings, "max_steps": 2},
        output=str(tmp_path / "first"),
        checkpoint_dir=str(checkpoints),
        keep_checkpoints=True,
    )
    result = train(first)
    assert (result.path / "config.json").is_file()
    assert (result.path / "tokenizer.json").is_file()
    meta = _check_artifact(result.path, "finetune", sample_frame)
    fit = meta.info["fit"]
    assert fit["steps"] == 2
    assert fit["best_checkpoint_validation_ap"] == fit["evaluations"][0]["validation_ap"]
    assert meta.info["hyperparameters"]["class_weights"][1] > 1  # positives weigh more
    assert meta.max_length == 64
    assert (checkpoints / "checkpoint-2").is_dir()
    # Trained on the CPU, so int8 scoring was checked against fp32 on validation.
    check = meta.info["int8_check"]
    assert check["ap_fp32"] == pytest.approx(
        meta.metrics["validation"]["average_precision"], abs=1e-5
    )
    assert check["passed"] == (abs(check["ap_int8"] - check["ap_fp32"]) <= 0.005)
    served = load_predictor(result.path, device="cpu")
    assert served.scoring_path == ("int8-dynamic" if check["passed"] else "fp32")

    # The checkpoints of an interrupted run are not thrown away by accident...
    again = make_config(**settings, output=str(tmp_path / "again"), checkpoint_dir=str(checkpoints))
    with pytest.raises(ConfigError, match=r"holds checkpoints of an interrupted run: add --resume"):
        train(again)

    # ...and --resume continues from the last one.
    resumed = make_config(
        **settings, output=str(tmp_path / "resumed"), checkpoint_dir=str(checkpoints), resume=True
    )
    result = train(resumed)
    fit = result.meta.info["fit"]
    assert fit["resumed_from"] == "checkpoint-2"
    assert fit["steps"] == 4
    assert [e["step"] for e in fit["evaluations"]] == [2, 4]
    assert fit["best_checkpoint_validation_ap"] == max(
        e["validation_ap"] for e in fit["evaluations"]
    )
    assert not checkpoints.exists(), "checkpoints are removed after a successful run"
    assert load_predictor(result.path, device="cpu").predict_proba(
        ["a title\nan abstract"]
    ).shape == (1,)


def test_threshold_never_sees_test_labels(make_config, sample_frame, tmp_path: Path) -> None:
    """Flip every test label: the threshold and validation metrics must not move."""
    test_ids = set(split_by_date(sample_frame).test["paper_id"])
    flipped = sample_frame.copy()
    in_test = flipped["paper_id"].isin(test_ids)
    flipped.loc[in_test, "interest"] = 1 - flipped.loc[in_test, "interest"]

    original = train(make_config(output=str(tmp_path / "original")), frame=sample_frame)
    changed = train(make_config(output=str(tmp_path / "flipped")), frame=flipped)

    assert changed.meta.threshold == original.meta.threshold
    assert changed.metrics["validation"] == original.metrics["validation"]
    assert changed.metrics["test"]["positives"] == 60 - original.metrics["test"]["positives"]
    assert changed.metrics["test"]["average_precision"] != pytest.approx(
        original.metrics["test"]["average_precision"]
    )


@pytest.mark.parametrize(
    ("strategy", "target"), [("precision", 0.6), ("recall", 0.5), ("per_day", 2.0)]
)
def test_threshold_strategies(make_config, strategy: str, target: float) -> None:
    result = train(make_config(threshold_strategy=strategy, threshold_target=target))
    validation = result.metrics["validation"]
    if strategy == "recall":
        assert validation["recall"] >= target
    elif strategy == "per_day":
        assert validation["recommended_per_day"] == pytest.approx(target, abs=0.2)
    else:
        assert validation["precision"] >= target
    assert result.meta.info["threshold_strategy"] == strategy


def test_existing_output_is_kept(make_config) -> None:
    config = make_config()
    train(config)
    before = (config.output_path / META_FILE).read_text()
    with pytest.raises(FileExistsError, match="already exists; choose another --output"):
        train(config)
    assert (config.output_path / META_FILE).read_text() == before


def test_failed_training_leaves_nothing(make_config, tmp_path: Path) -> None:
    config = make_config(
        method="embed", base_model=str(tmp_path / "no-such-model"), output=str(tmp_path / "m")
    )
    with pytest.raises(ConfigError, match=r"cannot load --base-model .*no-such-model"):
        train(config)
    assert not list(tmp_path.glob("*m*"))


def test_fraction_of_train_frame_only(sample_frame: pd.DataFrame, make_config) -> None:
    """A frame handed to train() replaces the CSV named in the config."""
    frame = sample_frame.iloc[::2].reset_index(drop=True)
    result = train(make_config(), frame=frame)
    assert result.meta.info["rows"] == 150
    assert result.meta.info["data_source"] == "a data frame given to train()"


def test_the_served_model_is_refit_on_every_label_with_the_chosen_configuration(
    make_config, sample_frame
) -> None:
    result = train(make_config(method="tfidf", c_grid=[0.1, 1.0]))
    served = result.meta.info["served_model"]
    assert served["fit_on"] == "all labels" and served["rows"] == 300
    assert served["up_to"] == str(sample_frame["submission_date"].max().date())
    assert served["hyperparameters"]["C"] == result.meta.info["hyperparameters"]["C"]
    assert "refit on all 300 labels up to" in (result.path / MODEL_CARD_FILE).read_text()
    # The newest labels now count: the served model ranks the test split better than the split
    # model that was measured on it.
    test = split_by_date(sample_frame).test
    served_scores = score_papers(load_predictor(result.path), paper_inputs(test))
    served_ap = average_precision_score(test["interest"], served_scores)
    assert served_ap > result.metrics["test"]["average_precision"]

    kept = train(make_config(method="tfidf", refit_all="no", output=str(result.path) + "-no"))
    assert kept.meta.info["served_model"]["fit_on"] == "train split"


def test_probabilities_are_calibrated_on_validation(make_config) -> None:
    result = train(make_config(method="tfidf"))
    calibration = result.meta.calibration
    assert calibration is not None and calibration["fit_on"] == "validation"
    assert calibration["rows"] == 60
    raw = train(make_config(method="tfidf", calibration="none", output=str(result.path) + "-raw"))
    assert raw.meta.calibration is None
    # Class weights put raw scores near one half; calibrated ones sit near the base rate.
    test = split_by_date(load_labelled_csv(make_config().data)).test
    calibrated = score_papers(load_predictor(result.path), paper_inputs(test))
    uncalibrated = score_papers(load_predictor(raw.path), paper_inputs(test))
    base_rate = test["interest"].mean()
    assert abs(calibrated.mean() - base_rate) < abs(uncalibrated.mean() - base_rate)


def test_finetune_refits_on_every_label_for_the_best_checkpoints_length(
    make_config, tiny_base, sample_frame
) -> None:
    config = make_config(**tiny_finetune_settings(tiny_base), refit_all="yes")
    result = train(config)
    served = result.meta.info["served_model"]
    assert served["fit_on"] == "all labels" and served["rows"] == 300
    best = max(result.meta.info["fit"]["evaluations"], key=lambda e: e["validation_ap"])
    assert served["hyperparameters"]["steps"] == best["step"]  # --max-steps bounds the run
    scores = score_papers(load_predictor(result.path), paper_inputs(sample_frame.iloc[:8]))
    assert scores.shape == (8,) and np.all((scores >= 0) & (scores <= 1))
    # On a CPU, auto leaves fine-tuning as measured.
    auto = train(make_config(**tiny_finetune_settings(tiny_base), output=str(result.path) + "-a"))
    assert auto.meta.info["served_model"]["fit_on"] == "train split"


def test_recency_weighting_halves_a_labels_weight_every_half_life(make_config) -> None:
    from training.methods.linear import recency_weights

    days = [pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp("2025-03-15", tz="UTC")]
    assert recency_weights(days, None) is None
    assert recency_weights(days, 14.0).tolist() == pytest.approx([0.5, 1.0])
    result = train(make_config(method="tfidf", recency_half_life_days=30.0))
    assert result.meta.info["hyperparameters"]["recency_half_life_days"] == 30.0
    with pytest.raises(ConfigError, match="--recency-half-life-days must be positive, got -1"):
        make_config(recency_half_life_days=-1.0)


@pytest.mark.parametrize("metadata", [False, True])
def test_character_ngrams_are_a_block_of_their_own_and_never_a_reason(
    make_config, sample_frame, metadata
) -> None:
    from training.inference.explain import tfidf_reasons

    frame = with_metadata(sample_frame) if metadata else sample_frame
    result = train(make_config(method="tfidf", tfidf_char_ngrams=True), frame=frame)
    assert result.meta.info["hyperparameters"]["char_ngrams"] == [3, 5]
    assert result.meta.info["fit"]["vocabulary_by_field"]["chars"] > 0
    predictor = load_predictor(result.path)
    papers = paper_inputs(frame.iloc[:10])
    scores = score_papers(predictor, papers)
    assert scores.shape == (10,) and np.all((scores >= 0) & (scores <= 1))
    assert predictor.predict_proba(["a text alone"]).shape == (1,)
    reasons = [r for rs in tfidf_reasons(predictor, papers) for r in rs]
    assert reasons and all(r.kind != "chars" for r in reasons)
