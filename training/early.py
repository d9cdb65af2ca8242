"""An early model: ranked recommendations from the first interesting papers.

A new reader has a handful of ✓ and few or no ✕: nothing to split, so nothing to measure a
threshold or a calibration on. As arxiv-sanity-lite and Scholar Inbox do, every stored paper the
reader has not labelled is taken as a *weak* negative (most papers of a day are not for any one
reader): a sample of them trains beside the explicit labels, each weighing ``weak_negative_weight``
of an explicit ✕, and the interesting papers weigh as much as all negatives together. The
configuration is fixed (no validation to choose one), chosen by ``bench/coldstart.py``.

Without labels to measure on, the threshold follows a prior the reader can understand: "about
``daily_picks`` papers of each day". The probabilities are shifted (a Platt map of slope 1) so
that their mean over the stored papers is that same share, and the threshold is the score of a
typical day's ``daily_picks``-th paper. Once the labels can fill the date split
(:func:`readiness`), the service moves to the measured regime of :func:`training.train.train`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from training.config import TrainConfig
from training.inference.artifact import (
    MODEL_CARD_FILE,
    ROWS_FILE,
    TEXT_COLUMN,
    TFIDF_PIPELINE_FILE,
    TRAIN_CONFIG_FILE,
    ModelMeta,
    atomic_directory,
    metadata_frame,
    save_pickle,
)
from training.inference.calibration import PLATT, Calibration
from training.inference.layout import DataError, data_hash, paper_inputs
from training.inference.predictor import load_predictor, score_papers
from training.methods.tfidf import (
    BASE_MODEL,
    SOLVER,
    metadata_vectorizer,
    text_vectorizer,
    usable_meta_fields,
)
from training.regime import EARLY, Readiness

logger = logging.getLogger(__name__)

# Shares of the stored papers that a prior may claim: at least one paper in 200, at most a quarter
# (a small database, whose days hold few papers, still gets a ranking, not a coin flip).
_PRIOR_BOUNDS = (0.005, 0.25)
# A listing day with fewer papers than this many times daily_picks says nothing of a typical day.
_DAY_SIZE_FACTOR = 2


# At most this share of the stored papers become pseudo-positives (30 of the benchmark's 2,668).
PSEUDO_SHARE = 0.02


@dataclass(frozen=True)
class EarlyResult:
    path: Path
    meta: ModelMeta
    fit_seconds: float
    total_seconds: float


def weak_negative_sample(pool: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """At most ``size`` unlabelled papers, drawn at random but repeatably."""
    if len(pool) <= size:
        return pool
    return pool.sample(n=size, random_state=seed).sort_index()


def prior_share(pool_days: pd.Series, daily_picks: float) -> float:
    """The share of stored papers a reader is expected to find interesting: daily_picks of a
    typical (median) listing day."""
    sizes = pool_days.value_counts()
    typical = float(sizes.median()) if len(sizes) else daily_picks / _PRIOR_BOUNDS[1]
    return float(np.clip(daily_picks / max(typical, 1.0), *_PRIOR_BOUNDS))


def prior_calibration(raw: np.ndarray, share: float, *, positives: int) -> Calibration:
    """Shift the logits (slope 1, so the ranking stays) until the mean probability over the
    stored papers is ``share``."""
    low, high = -50.0, 50.0
    for _ in range(100):  # bisection on a monotone mean
        middle = (low + high) / 2
        shifted = Calibration(PLATT, 1.0, middle, "prior", len(raw), positives)
        if float(shifted.apply(raw).mean()) < share:
            low = middle
        else:
            high = middle
    return Calibration(
        method=PLATT,
        slope=1.0,
        intercept=(low + high) / 2,
        fit_on=f"prior: about {share:.1%} of the stored papers",
        rows=len(raw),
        positives=positives,
    )


def daily_threshold(scores: np.ndarray, days: pd.Series, daily_picks: int) -> tuple[float, str]:
    """The score of a typical day's ``daily_picks``-th paper (the median over listing days big
    enough to say so); without such days, the same share of all stored papers."""
    frame = pd.DataFrame({"score": scores, "day": days.to_numpy()})
    cut = []
    for _, day in frame.groupby("day"):
        if len(day) >= _DAY_SIZE_FACTOR * daily_picks:
            cut.append(float(np.sort(day["score"].to_numpy())[::-1][daily_picks - 1]))
    if cut:
        return (
            float(np.median(cut)),
            f"the score of the {daily_picks}th paper of a typical day (median over {len(cut)} "
            "stored days): about that many recommended a day",
        )
    quantile = 1.0 - prior_share(days, daily_picks)
    return (
        float(np.quantile(scores, quantile)) if len(scores) else 0.5,
        f"the top {1 - quantile:.1%} of the stored papers (no stored listing day is big enough "
        "to count a day's picks on)",
    )


def _logreg(config: TrainConfig) -> LogisticRegression:
    return LogisticRegression(
        C=config.early_c, solver=SOLVER, max_iter=5000, random_state=config.seed
    )


def fit_early_pipeline(
    config: TrainConfig, labels: pd.DataFrame, pool: pd.DataFrame, *, sample: pd.DataFrame
) -> tuple[Pipeline, list[str], dict[str, str]]:
    """TF-IDF blocks (vocabulary and IDF from every stored paper, labelled or not) and a
    logistic regression on the labels plus the sample of weak negatives (a row of ``pool``),
    refit once with the ``pseudo_positives`` stored papers it likes most as weak positives."""
    everything = pd.concat([labels.drop(columns="interest"), pool], ignore_index=True)
    wanted = list(config.meta_fields)
    all_x: Any = metadata_frame(
        paper_inputs(everything), text_fields=config.text_fields, meta_fields=wanted
    )
    fields, dropped = usable_meta_fields(config, all_x, wanted)
    features = ColumnTransformer(
        [(TEXT_COLUMN, text_vectorizer(config), TEXT_COLUMN)]
        + [(name, metadata_vectorizer(name, config), name) for name in fields],
        transformer_weights={TEXT_COLUMN: 1.0, **{name: config.meta_weight for name in fields}},
    )
    every_x = sparse.csr_matrix(features.fit_transform(all_x[[TEXT_COLUMN, *fields]]))
    labels_x, pool_x = every_x[: len(labels)], every_x[len(labels) :]
    in_sample = pool.index.get_indexer(sample.index)
    weak_x = pool_x[in_sample]
    y = np.r_[labels["interest"].to_numpy(dtype=int), np.zeros(len(sample), dtype=int)]
    weight = np.r_[np.ones(len(labels)), np.full(len(sample), config.weak_negative_weight)]
    positives = y == 1
    # The interesting papers weigh as much as every negative together (class balance).
    weight[positives] = weight[~positives].sum() / positives.sum()
    train_x = sparse.vstack([labels_x, weak_x]).tocsr()
    logreg = _logreg(config).fit(train_x, y, sample_weight=weight)
    # Pseudo-relevance feedback: the stored papers the first fit likes most join the interesting
    # ones at a small weight, so a handful of ✓ reach their neighbours' words. Never more than
    # a small share of the stored papers: the rest must stay negatives.
    pseudo = min(config.pseudo_positives, int(len(pool) * PSEUDO_SHARE))
    if pseudo:
        scores = logreg.decision_function(pool_x)
        top = np.argsort(-scores, kind="stable")[:pseudo]
        keep = ~np.isin(np.arange(len(y)), len(labels) + np.flatnonzero(np.isin(in_sample, top)))
        positive_weight = float(weight[positives][0])
        train_x = sparse.vstack([train_x[keep], pool_x[top]]).tocsr()
        y = np.r_[y[keep], np.ones(len(top), dtype=int)]
        weight = np.r_[
            weight[keep], np.full(len(top), config.pseudo_positive_weight * positive_weight)
        ]
        logreg = _logreg(config).fit(train_x, y, sample_weight=weight)
    return Pipeline([("tfidf", features), ("logreg", logreg)]), fields, dropped


def train_early(
    config: TrainConfig,
    labels: pd.DataFrame,
    pool: pd.DataFrame,
    *,
    source: str,
    name: str | None = None,
    readiness_info: Readiness | None = None,
    labels_hash: str | None = None,
) -> EarlyResult:
    """Write an early model directory (tfidf) from the explicit ``labels`` (one ✓ is enough)
    and the ``pool`` of stored papers nobody labelled, which are its weak negatives.
    ``labels_hash``: ``data_hash(labels)`` where the caller has it."""
    started = time.perf_counter()
    positives = int(labels["interest"].sum()) if len(labels) else 0
    if positives == 0:
        raise DataError(
            "no paper is marked interesting yet: mark at least one paper ✓ interesting (or "
            "import a few arXiv ids you like) and retrain"
        )
    if pool.empty and positives == len(labels):
        raise DataError(
            "there are no other papers to compare your interesting ones with yet: fetch a day of "
            "arXiv listings first (the daily job does it, or a backfill)"
        )
    sample = weak_negative_sample(pool, config.weak_negatives, config.seed)
    output = config.output_path
    with atomic_directory(output, overwrite=config.overwrite) as workdir:
        fit_started = time.perf_counter()
        pipeline, fields, dropped = fit_early_pipeline(config, labels, pool, sample=sample)
        save_pickle(pipeline, workdir / TFIDF_PIPELINE_FILE)
        fit_seconds = time.perf_counter() - fit_started
        meta = ModelMeta(
            method="tfidf",
            threshold=0.5,  # replaced below, once the stored papers have been scored
            max_length=0,
            base_model=BASE_MODEL,
            text_fields=list(config.text_fields),
            meta_fields=fields,
        )
        meta.save(workdir)
        # Scored through the service's own loader: what sets the threshold is what is served.
        predictor = load_predictor(workdir, device="cpu", batch_size=config.eval_batch_size)
        scoring = pool if not pool.empty else labels
        raw = score_papers(predictor, paper_inputs(scoring))
        days = scoring["submission_date"].dt.normalize()
        share = prior_share(days, config.daily_picks)
        calibration = prior_calibration(raw, share, positives=positives)
        threshold, rule = daily_threshold(calibration.apply(raw), days, config.daily_picks)
        meta.threshold = float(np.clip(threshold, 0.0, 1.0))
        meta.calibration = calibration.as_dict()
        pd.DataFrame(
            {"paper_id": labels["paper_id"].to_numpy(), "split": "train", "raw_score": np.nan}
        ).assign(score=np.nan).to_csv(workdir / ROWS_FILE, index=False)
        meta.info = {
            "name": name or output.name,
            "regime": EARLY,
            "readiness": readiness_info.as_dict() if readiness_info is not None else None,
            "data_source": source,
            "data_hash": labels_hash or data_hash(labels),
            "rows": len(labels),
            "threshold_rule": rule,
            "hyperparameters": {
                "C": config.early_c,
                "weak_negative_weight": config.weak_negative_weight,
                "weak_negatives": len(sample),
                "pseudo_positives": config.pseudo_positives,
                "pseudo_positive_weight": config.pseudo_positive_weight,
                "daily_picks": config.daily_picks,
                "min_df": config.tfidf_min_df,
                "meta_fields": fields,
                "meta_weight": config.meta_weight if fields else None,
                "solver": SOLVER,
            },
            "fit": {"stored_papers": len(pool), "meta_fields_left_out": dropped},
            "fit_seconds": round(fit_seconds, 2),
            "served_model": {
                "fit_on": "all labels",
                "rows": len(labels),
                "positives": positives,
                "weak_negatives": len(sample),
                "up_to": str(labels["submission_date"].max().date()),
            },
            "seed": config.seed,
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        meta.save(workdir)
        config.save(workdir / TRAIN_CONFIG_FILE)
        _write_card(workdir, meta, share)
    logger.info(
        "early model %s: %d interesting, %d not, %d weak negatives of %d stored; threshold %.4f",
        output.name,
        positives,
        len(labels) - positives,
        len(sample),
        len(pool),
        meta.threshold,
    )
    return EarlyResult(
        path=output,
        meta=meta,
        fit_seconds=fit_seconds,
        total_seconds=time.perf_counter() - started,
    )


def _write_card(directory: Path, meta: ModelMeta, share: float) -> None:
    info, hyper = meta.info, meta.info["hyperparameters"]
    served = info["served_model"]
    card = f"""# {info["name"]} (early model)

An early model: too few labels to set any aside, so nothing here was measured on held-out
labels. It learned from {served["positives"]} interesting and
{served["rows"] - served["positives"]} “not for me” papers, and from {served["weak_negatives"]}
of the {info["fit"]["stored_papers"]} stored papers nobody labelled, each taken as a weak
“not for me” (weight {hyper["weak_negative_weight"]}).

- method: `tfidf` (`{meta.base_model}`, C = {hyper["C"]}), reading the title and abstract
  and {", ".join(meta.meta_fields) or "no metadata"}
- threshold: **{meta.threshold:.4f}**, {info["threshold_rule"]}
- probabilities: a prior, not a measurement: about {share:.1%} of the stored papers
- data: {info["data_source"]} (`{info["data_hash"]}`)
- trained {info["trained_at"]} in {info["fit_seconds"]:.1f} s, seed {info["seed"]}
"""
    (directory / MODEL_CARD_FILE).write_text(card, encoding="utf-8")
