"""TF-IDF over 1-2 grams and a class-weighted logistic regression: a baseline in seconds.

With ``meta_fields`` the paper's metadata (authors, categories, the arXiv comment) are TF-IDF
blocks of their own, weighted by ``meta_weight`` and stacked beside the text block by a
ColumnTransformer, so the saved pipeline reads :func:`training.inference.artifact.metadata_frame`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from training.config import TrainConfig
from training.inference.artifact import (
    AUTHOR_SEPARATOR,
    SECOND_STAGE_FILE,
    TEXT_COLUMN,
    TFIDF_PIPELINE_FILE,
    metadata_frame,
    save_pickle,
)
from training.inference.layout import paper_inputs, texts_of
from training.inference.second_stage import SIGNALS, SecondStage
from training.methods import FitResult
from training.methods.linear import choose_c, recency_weights
from training.split import DateSplit
from training.stack import FOLDS, fit_stage, out_of_fold_scores

logger = logging.getLogger(__name__)

BASE_MODEL = "tfidf-1-2gram+logistic-regression"
# Newton-CG: the C grid in about a quarter of lbfgs's time on these sparse features, to the same
# optimum (validation AP within 0.001 on the benchmark); it keeps a retrain well under 30 s.
SOLVER = "newton-cg"


def text_vectorizer(config: TrainConfig) -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=config.tfidf_min_df,
        max_features=config.tfidf_max_features,
        sublinear_tf=True,
        strip_accents="unicode",
    )


CHARS = "chars"  # the character n-gram block of the text, with --tfidf-char-ngrams


def char_vectorizer(config: TrainConfig) -> TfidfVectorizer:
    """Character 3-5-grams within words: spelling variants, plurals and word pieces."""
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        min_df=config.tfidf_min_df,
        max_features=config.tfidf_max_features,
        sublinear_tf=True,
        strip_accents="unicode",
    )


def metadata_vectorizer(name: str, config: TrainConfig) -> TfidfVectorizer:
    """Each full author name is one token; categories are whole names; the comment is words."""
    if name == "authors":
        return TfidfVectorizer(
            token_pattern=rf"[^{AUTHOR_SEPARATOR}]+", lowercase=False, min_df=config.tfidf_min_df
        )
    if name == "categories":
        return TfidfVectorizer(token_pattern=r"[^,\s]+")
    if name == "comment":
        return TfidfVectorizer(min_df=config.tfidf_min_df, sublinear_tf=True)
    raise ValueError(f"no vectorizer for metadata field {name!r}")


def usable_meta_fields(
    config: TrainConfig, train_x: Any, fields: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The fields with a vocabulary on the training rows, and why each other one was left out."""
    kept, dropped = [], {}
    for name in fields:
        column = train_x[name]
        if not column.astype(bool).any():
            dropped[name] = "empty in every training row"
        else:
            try:
                metadata_vectorizer(name, config).fit(column)
            except ValueError as err:  # sklearn: empty vocabulary, or none left after min_df
                dropped[name] = f"no vocabulary ({err})"
        if name in dropped:
            logger.info("tfidf: leaving out %s: %s", name, dropped[name])
        else:
            kept.append(name)
    return kept, dropped


def tfidf_features(config: TrainConfig, fields: list[str]) -> Any:
    """The unfitted features: the text's TF-IDF block, with character n-grams and each metadata
    field in ``fields`` as blocks beside it (a ColumnTransformer over a metadata frame), or the
    text vectorizer alone, reading plain strings, when there is nothing beside it."""
    chars = [(CHARS, char_vectorizer(config), TEXT_COLUMN)] if config.tfidf_char_ngrams else []
    if not (fields or chars):
        return text_vectorizer(config)
    return ColumnTransformer(
        [(TEXT_COLUMN, text_vectorizer(config), TEXT_COLUMN)]
        + chars
        + [(name, metadata_vectorizer(name, config), name) for name in fields],
        transformer_weights={
            TEXT_COLUMN: 1.0,
            **({CHARS: 1.0} if chars else {}),
            **{name: config.meta_weight for name in fields},
        },
    )


def fit_tfidf(config: TrainConfig, split: DateSplit, model_dir: Path) -> FitResult:
    wanted = list(config.meta_fields)
    train_x: Any = metadata_frame(
        paper_inputs(split.train), text_fields=config.text_fields, meta_fields=wanted
    )
    fields, dropped = usable_meta_fields(config, train_x, wanted)
    features = tfidf_features(config, fields)
    if isinstance(features, ColumnTransformer):
        train_x = train_x[[TEXT_COLUMN, *fields]]
        val_x: Any = metadata_frame(
            paper_inputs(split.validation), text_fields=config.text_fields, meta_fields=fields
        )
    else:
        # The text alone: the pipeline reads plain strings, as models without metadata always did.
        train_x = texts_of(split.train, config.text_fields)
        val_x = texts_of(split.validation, config.text_fields)

    # The features do not depend on C: fit them once, then one logistic regression per C.
    features = clone(features)
    train_features = features.fit_transform(train_x)
    logreg, chosen_c, ap_by_c = choose_c(
        config.c_grid,
        lambda c: LogisticRegression(
            C=c,
            class_weight="balanced" if config.class_weights else None,
            solver=SOLVER,
            max_iter=5000,
            random_state=config.seed,
        ),
        train_features,
        split.train["interest"].to_numpy(),
        features.transform(val_x),
        split.validation["interest"].to_numpy(),
        sample_weight=recency_weights(
            list(split.train["submission_date"]), config.recency_half_life_days
        ),
    )
    pipeline = Pipeline([("tfidf", features), ("logreg", logreg)])
    save_pickle(pipeline, model_dir / TFIDF_PIPELINE_FILE)
    stage = (
        fit_second_stage(config, train_features, split.train, chosen_c)
        if config.second_stage
        else None
    )
    if stage is not None:
        save_pickle(stage, model_dir / SECOND_STAGE_FILE)
    else:  # a refit into the split model's folder must not leave the split's stage behind
        (model_dir / SECOND_STAGE_FILE).unlink(missing_ok=True)
    vocabulary = _vocabulary_sizes(features, fields)
    logger.info("tfidf: vocabulary %s", vocabulary)
    return FitResult(
        max_length=0,
        base_model=BASE_MODEL,
        hyperparameters={
            "ngram_range": [1, 2],
            "min_df": config.tfidf_min_df,
            "max_features": config.tfidf_max_features,
            "sublinear_tf": True,
            "C": chosen_c,
            "c_grid": list(config.c_grid),
            "solver": SOLVER,
            "class_weight": "balanced" if config.class_weights else None,
            "meta_fields": fields,
            "meta_weight": config.meta_weight if fields else None,
            "recency_half_life_days": config.recency_half_life_days,
            "char_ngrams": [3, 5] if config.tfidf_char_ngrams else None,
            "second_stage": {"folds": FOLDS, "signals": list(SIGNALS)} if stage else None,
        },
        details={
            "validation_ap_by_C": ap_by_c,
            "vocabulary_size": sum(vocabulary.values()),
            "vocabulary_by_field": vocabulary,
            "meta_fields_left_out": dropped,
            **({"second_stage_weights": stage.weights()} if stage else {}),
        },
        meta_fields=fields,
    )


class _OneClassFold(Exception):
    """The rows a fold model is fit on carry one kind of label."""


def fit_second_stage(
    config: TrainConfig, train_x: Any, train: pd.DataFrame, c: float
) -> SecondStage | None:
    """The second stage on ``train``: the text model's out-of-fold scores from five date-ordered
    folds, then ``training.stack.fit_stage``. ``train_x`` is ``train`` through the features fit on
    all of it (their vocabulary and idf saw the held-out fold's words, never its labels). The rows
    are in date order (``split_by_date``). None, with a warning, when a fold's fitting rows hold one
    kind of label only."""
    y = train["interest"].to_numpy()
    weights = recency_weights(list(train["submission_date"]), config.recency_half_life_days)

    def fit_and_score(fit_rows: np.ndarray, score_rows: np.ndarray) -> np.ndarray:
        if len(set(y[fit_rows])) < 2:
            raise _OneClassFold
        model = LogisticRegression(
            C=c,
            class_weight="balanced" if config.class_weights else None,
            solver=SOLVER,
            max_iter=5000,
            random_state=config.seed,
        ).fit(
            train_x[fit_rows],
            y[fit_rows],
            sample_weight=None if weights is None else weights[fit_rows],
        )
        return np.asarray(model.predict_proba(train_x[score_rows])[:, 1])

    try:
        scores = out_of_fold_scores(len(train), fit_and_score)
    except _OneClassFold:
        # Every ✓ in one date fold (old liked papers imported, then mostly ✕): that fold's
        # scores would be a constant, and the stage could learn to invert the text model.
        logger.warning("no second stage: one date fold holds every interesting paper")
        return None
    stage = fit_stage(paper_inputs(train), y, scores, seed=config.seed)
    logger.info("second stage weights: %s", stage.weights())
    return stage


def _vocabulary_sizes(features: Any, fields: list[str]) -> dict[str, int]:
    if not hasattr(features, "named_transformers_"):
        return {TEXT_COLUMN: len(features.vocabulary_)}
    return {
        name: len(transformer.vocabulary_)
        for name, transformer in features.named_transformers_.items()
        if hasattr(transformer, "vocabulary_")
    }
