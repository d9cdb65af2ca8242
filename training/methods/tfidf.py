"""TF-IDF over 1-2 grams and a class-weighted logistic regression: a baseline in seconds."""

from __future__ import annotations

import logging
from pathlib import Path

import joblib
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from app.ml.artifact import TFIDF_PIPELINE_FILE
from training.config import TrainConfig
from training.data import texts_of
from training.methods import FitResult
from training.methods.linear import choose_c
from training.split import DateSplit

logger = logging.getLogger(__name__)

BASE_MODEL = "tfidf-1-2gram+logistic-regression"


def fit_tfidf(config: TrainConfig, split: DateSplit, model_dir: Path) -> FitResult:
    train_texts = texts_of(split.train, config.text_fields)
    val_texts = texts_of(split.validation, config.text_fields)

    def make(c: float) -> Pipeline:
        return Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(
                        ngram_range=(1, 2),
                        min_df=config.tfidf_min_df,
                        max_features=config.tfidf_max_features,
                        sublinear_tf=True,
                        strip_accents="unicode",
                    ),
                ),
                (
                    "logreg",
                    LogisticRegression(
                        C=c,
                        class_weight="balanced" if config.class_weights else None,
                        max_iter=5000,
                        random_state=config.seed,
                    ),
                ),
            ]
        )

    pipeline, chosen_c, ap_by_c = choose_c(
        config.c_grid,
        make,
        train_texts,
        split.train["interest"].to_numpy(),
        val_texts,
        split.validation["interest"].to_numpy(),
    )
    joblib.dump(pipeline, model_dir / TFIDF_PIPELINE_FILE)
    vocabulary = len(pipeline.named_steps["tfidf"].vocabulary_)
    logger.info("tfidf: %d n-grams", vocabulary)
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
            "class_weight": "balanced" if config.class_weights else None,
        },
        details={"validation_ap_by_C": ap_by_c, "vocabulary_size": vocabulary},
    )
