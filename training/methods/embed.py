"""Frozen encoder embeddings and a logistic regression: the encoder ships inside the artifact."""

from __future__ import annotations

import logging
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from transformers import AutoModel

from training.config import TrainConfig
from training.inference.artifact import EMBED_CLASSIFIER_FILE, ENCODER_DIR, save_pickle
from training.inference.device import pick_device
from training.inference.encoder import embed_texts
from training.inference.layout import texts_of
from training.methods import FitResult, encoder_max_length, load_base
from training.methods.linear import choose_c, recency_weights
from training.split import DateSplit

logger = logging.getLogger(__name__)


def fit_embed(config: TrainConfig, split: DateSplit, model_dir: Path) -> FitResult:
    device = pick_device(config.device)
    tokenizer, encoder = load_base(config, AutoModel)
    encoder.to(device).eval()
    max_length = encoder_max_length(tokenizer, encoder, config.max_length)

    def embed(texts: list[str]):  # noqa: ANN202 - numpy array
        return embed_texts(
            encoder,
            tokenizer,
            texts,
            max_length=max_length,
            batch_size=config.eval_batch_size,
            device=device,
            progress=config.progress,
        )

    logger.info(
        "embedding %d train and %d validation texts", len(split.train), len(split.validation)
    )
    train_x = embed(texts_of(split.train, config.text_fields))
    val_x = embed(texts_of(split.validation, config.text_fields))

    def make(c: float) -> LogisticRegression:
        return LogisticRegression(
            C=c,
            class_weight="balanced" if config.class_weights else None,
            max_iter=5000,
            random_state=config.seed,
        )

    classifier, chosen_c, ap_by_c = choose_c(
        config.c_grid,
        make,
        train_x,
        split.train["interest"].to_numpy(),
        val_x,
        split.validation["interest"].to_numpy(),
        sample_weight=recency_weights(
            list(split.train["submission_date"]), config.recency_half_life_days
        ),
    )
    save_pickle(classifier, model_dir / EMBED_CLASSIFIER_FILE)
    encoder.save_pretrained(model_dir / ENCODER_DIR)
    tokenizer.save_pretrained(model_dir / ENCODER_DIR)
    return FitResult(
        max_length=max_length,
        base_model=config.base_model,
        hyperparameters={
            "pooling": "mean, L2-normalised",
            "C": chosen_c,
            "c_grid": list(config.c_grid),
            "class_weight": "balanced" if config.class_weights else None,
            "max_length": max_length,
        },
        details={"validation_ap_by_C": ap_by_c, "embedding_dim": int(train_x.shape[1])},
    )
