"""``train(config)``: labelled rows in, a served-ready model directory and its metrics out.

The CLI, the service's retrain and the tests all call this one function. It never opens the
service's database: registering the directory is the service's business.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from training.artifact import TRAIN_CONFIG_FILE, ModelMeta, atomic_directory
from training.config import ConfigError, TrainConfig
from training.device import pick_device
from training.layout import data_hash, load_labelled_csv, paper_inputs
from training.methods import get_method
from training.metrics import choose_threshold, split_metrics
from training.predictor import (
    INT8_CHECK,
    INT8_MAX_AP_CHANGE,
    INT8_SCHEME,
    load_predictor,
    score_papers,
)
from training.report import plot_pr_curves, write_model_card
from training.split import DateSplit, split_by_date

logger = logging.getLogger(__name__)

_VERSIONED = ("torch", "transformers", "scikit-learn", "numpy", "pandas", "tokenizers")


@dataclass
class TrainResult:
    path: Path
    meta: ModelMeta
    fit_seconds: float
    total_seconds: float

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.metrics


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def load_training_data(config: TrainConfig) -> tuple[pd.DataFrame, str]:
    if config.data is None:
        raise ConfigError("no training data: give --data labels.csv")
    return load_labelled_csv(config.data), str(config.data)


def _set_seed(seed: int) -> None:
    from transformers import set_seed

    set_seed(seed)


def train(
    config: TrainConfig,
    *,
    frame: pd.DataFrame | None = None,
    source: str | None = None,
    name: str | None = None,
) -> TrainResult:
    """Train, choose the threshold on validation, report validation and test, save.

    ``frame`` (already validated, e.g. from :func:`load_labelled_csv` or
    :func:`training.layout.labels_frame`) replaces the CSV that ``config`` names; ``source`` says
    where it came from and ``name`` what to call the model, for the model card.
    """
    started = time.perf_counter()
    _set_seed(config.seed)
    if frame is None:
        frame, source = load_training_data(config)
    else:
        source = source or "a data frame given to train()"
    split = split_by_date(
        frame, val_fraction=config.val_fraction, test_fraction=config.test_fraction
    )
    output = config.output_path
    with atomic_directory(output, overwrite=config.overwrite) as workdir:
        fit_started = time.perf_counter()
        fitted = get_method(config.method)(config, split, workdir)
        fit_seconds = time.perf_counter() - fit_started
        logger.info("%s trained in %.1f s", config.method, fit_seconds)
        meta = ModelMeta(
            method=config.method,  # type: ignore[arg-type]  # checked by TrainConfig
            threshold=0.5,  # replaced below, once validation has been scored
            max_length=fitted.max_length,
            base_model=fitted.base_model,
            text_fields=list(config.text_fields),
            meta_fields=list(fitted.meta_fields),
        )
        meta.save(workdir)
        # Score through the service's own loader, so the numbers are those of the served model.
        scores = score_splits(workdir, split, config)
        validation_days = _days(split.validation)
        threshold, rule = choose_threshold(
            split.validation["interest"].to_numpy(),
            scores["validation"],
            strategy=config.threshold_strategy,
            target=config.threshold_target,
            days=validation_days,
        )
        logger.info("threshold %.4f: %s", threshold, rule)
        metrics = {
            name: split_metrics(
                part["interest"].to_numpy(), scores[name], threshold=threshold, days=_days(part)
            )
            for name, part in (("validation", split.validation), ("test", split.test))
        }
        meta.threshold = threshold
        meta.metrics = metrics
        meta.info = {
            "name": name or output.name,
            "data_source": source,
            "data_hash": data_hash(frame),
            "rows": len(frame),
            "splits": split.info(),
            "split_fractions": {
                "train": round(1 - config.val_fraction - config.test_fraction, 6),
                "validation": config.val_fraction,
                "test": config.test_fraction,
            },
            "threshold_strategy": config.threshold_strategy,
            "threshold_target": config.threshold_target,
            "threshold_rule": rule,
            "hyperparameters": fitted.hyperparameters,
            "fit": fitted.details,
            "fit_seconds": round(fit_seconds, 2),
            "seed": config.seed,
            "versions": library_versions(),
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        meta.save(workdir)
        if config.method == "finetune" and _wants_int8_check(config):
            meta.info[INT8_CHECK] = int8_check(
                workdir, split.validation, scores["validation"], config
            )
            meta.save(workdir)
        config.save(workdir / TRAIN_CONFIG_FILE)
        write_model_card(workdir, meta)
        plot_pr_curves(
            workdir,
            {
                "validation": (split.validation["interest"].to_numpy(), scores["validation"]),
                "test": (split.test["interest"].to_numpy(), scores["test"]),
            },
            metrics,
            title=f"{meta.info['name']} ({config.method})",
        )
    logger.info("wrote %s", output)
    return TrainResult(
        path=output,
        meta=meta,
        fit_seconds=fit_seconds,
        total_seconds=time.perf_counter() - started,
    )


def _wants_int8_check(config: TrainConfig) -> bool:
    if config.int8_check != "auto":
        return config.int8_check == "yes"
    return pick_device(config.device).type == "cpu"


def int8_check(
    model_dir: Path, validation: pd.DataFrame, fp32_scores: np.ndarray, config: TrainConfig
) -> dict[str, Any]:
    """Does int8 CPU scoring keep validation AP within INT8_MAX_AP_CHANGE of fp32?"""
    started = time.perf_counter()
    predictor = load_predictor(
        model_dir, device="cpu", batch_size=config.eval_batch_size, precision="int8"
    )
    int8_scores = score_papers(predictor, paper_inputs(validation), progress=config.progress)
    labels = validation["interest"].to_numpy()
    ap_fp32 = float(average_precision_score(labels, fp32_scores))
    ap_int8 = float(average_precision_score(labels, int8_scores))
    change = ap_int8 - ap_fp32
    passed = abs(change) <= INT8_MAX_AP_CHANGE
    logger.info(
        "int8 check on validation: AP %.4f (fp32) vs %.4f (int8), change %+.4f: %s",
        ap_fp32,
        ap_int8,
        change,
        "the service will score with int8 on the CPU" if passed else "fp32 stays",
    )
    return {
        "split": "validation",
        "scheme": INT8_SCHEME,
        "ap_fp32": round(ap_fp32, 6),
        "ap_int8": round(ap_int8, 6),
        "ap_change": round(change, 6),
        "max_change": INT8_MAX_AP_CHANGE,
        "passed": passed,
        "seconds": round(time.perf_counter() - started, 2),
    }


def score_splits(model_dir: Path, split: DateSplit, config: TrainConfig) -> dict[str, np.ndarray]:
    predictor = load_predictor(model_dir, device=config.device, batch_size=config.eval_batch_size)
    return {
        name: score_papers(predictor, paper_inputs(part), progress=config.progress)
        for name, part in (("validation", split.validation), ("test", split.test))
    }


def _days(part: pd.DataFrame) -> int:
    return int(part["submission_date"].dt.normalize().nunique())
