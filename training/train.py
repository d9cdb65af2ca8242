"""``train(config)``: labelled rows in, a served-ready model directory and its metrics out.

The CLI, the service's retrain and the tests all call this one function. It never opens the
service's database: registering the directory is the service's business.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from training.calibrate import fit_platt
from training.config import ConfigError, TrainConfig
from training.inference.artifact import (
    INT8_CHECK,
    INT8_MAX_AP_CHANGE,
    INT8_SCHEME,
    ROWS_FILE,
    TRAIN_CONFIG_FILE,
    ModelMeta,
    atomic_directory,
)
from training.inference.device import pick_device
from training.inference.layout import data_hash, load_labelled_csv, paper_inputs
from training.inference.predictor import load_predictor, score_papers
from training.methods import FitResult, get_method
from training.metrics import choose_threshold, split_metrics
from training.report import plot_pr_curves, write_model_card
from training.split import DateSplit, split_by_date

logger = logging.getLogger(__name__)

# Methods whose chosen configuration is refit on every label by default: seconds on a CPU.
REFIT_METHODS = ("tfidf", "embed")
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
    labels_hash: str | None = None,
) -> TrainResult:
    """Train, choose the threshold on validation, report validation and test, save.

    ``frame`` (already validated, e.g. from :func:`load_labelled_csv` or
    :func:`training.inference.layout.labels_frame`) replaces the CSV that ``config`` names;
    ``source`` says where it came from and ``name`` what to call the model, for the model card.
    ``labels_hash`` is ``data_hash(frame)`` where the caller has it (a retrain does), so the
    rows are hashed once.
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
        raw = score_splits(workdir, split, config)
        calibration = None
        if config.calibration == "platt":
            calibration = fit_platt(raw["validation"], split.validation["interest"].to_numpy())
            logger.info(
                "calibration (Platt, validation): slope %.3f, intercept %.3f",
                calibration.slope,
                calibration.intercept,
            )
        scores = (
            {name: calibration.apply(values) for name, values in raw.items()}
            if calibration is not None
            else raw
        )
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
        meta.calibration = calibration.as_dict() if calibration is not None else None
        served = _serve(config, frame, split, workdir, fitted)
        meta.meta_fields = list(served.pop("meta_fields", meta.meta_fields))
        write_rows(workdir, split, raw, scores)
        meta.info = {
            "name": name or output.name,
            "data_source": source,
            "data_hash": labels_hash or data_hash(frame),
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
            "served_model": served,
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


def wants_refit(config: TrainConfig) -> bool:
    """auto: the fast methods refit on every label; fine-tuning only on a GPU (see TrainConfig)."""
    if config.refit_all != "auto":
        return config.refit_all == "yes"
    return config.method in REFIT_METHODS or pick_device(config.device).type == "cuda"


def _serve(
    config: TrainConfig, frame: pd.DataFrame, split: DateSplit, workdir: Path, fitted: FitResult
) -> dict[str, Any]:
    """Refit the chosen configuration on every labelled row when asked, so the served model
    learns from the newest labels too; the split's metrics, threshold and calibration stay those
    measured without them. Returns what the model card says of the served fit."""
    if not wants_refit(config):
        return {
            "fit_on": "train split",
            "rows": len(split.train),
            "positives": int(split.train["interest"].sum()),
            "up_to": _last_day(split.train),
        }
    started = time.perf_counter()
    ordered = frame.sort_values("submission_date", kind="stable").reset_index(drop=True)
    if config.method == "finetune":
        from training.methods.finetune import refit_finetune

        length = refit_finetune(config, ordered, workdir, fitted)
        seconds = time.perf_counter() - started
        logger.info("refit finetune on all %d labels in %.1f s", len(frame), seconds)
        return {
            "fit_on": "all labels",
            "rows": len(frame),
            "positives": int(frame["interest"].sum()),
            "up_to": _last_day(frame),
            "hyperparameters": length,
            "seconds": round(seconds, 2),
        }
    chosen = fitted.hyperparameters.get("C")
    refit_config = replace(
        config,
        c_grid=[float(chosen)] if chosen is not None else list(config.c_grid),
        meta_fields=list(fitted.meta_fields),
    )
    everything = DateSplit(
        train=ordered,
        validation=split.validation,
        test=split.test,
    )
    refitted = get_method(config.method)(refit_config, everything, workdir)
    seconds = time.perf_counter() - started
    logger.info("refit %s on all %d labels in %.1f s", config.method, len(frame), seconds)
    return {
        "fit_on": "all labels",
        "rows": len(frame),
        "positives": int(frame["interest"].sum()),
        "up_to": _last_day(frame),
        "hyperparameters": {"C": chosen} if chosen is not None else {},
        "seconds": round(seconds, 2),
        "meta_fields": list(refitted.meta_fields),
    }


def write_rows(
    workdir: Path, split: DateSplit, raw: dict[str, np.ndarray], scores: dict[str, np.ndarray]
) -> None:
    """Which rows the model saw in which split, with the split model's scores."""
    parts = []
    for name, part in split.parts().items():
        rows = pd.DataFrame({"paper_id": part["paper_id"].to_numpy(), "split": name})
        rows["raw_score"] = raw.get(name, np.nan)
        rows["score"] = scores.get(name, np.nan)
        parts.append(rows)
    pd.concat(parts).to_csv(workdir / ROWS_FILE, index=False, float_format="%.10g")


def _last_day(part: pd.DataFrame) -> str:
    return str(part["submission_date"].max().date())


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
