"""Training methods. Each writes its model files into a directory that ``load_predictor`` reads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import ConfigError, TrainConfig
from training.split import DateSplit

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    max_length: int
    base_model: str
    hyperparameters: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    # The metadata fields the model reads (tfidf), after leaving out those without data.
    meta_fields: list[str] = field(default_factory=list)


Fit = Callable[[TrainConfig, DateSplit, Path], FitResult]


def get_method(name: str) -> Fit:
    """Import lazily: the fast methods should not pay for torch's import when unused."""
    if name == "tfidf":
        from training.methods.tfidf import fit_tfidf

        return fit_tfidf
    if name == "embed":
        from training.methods.embed import fit_embed

        return fit_embed
    if name == "finetune":
        from training.methods.finetune import fit_finetune

        return fit_finetune
    raise ValueError(f"unknown training method {name!r}")


def encoder_max_length(tokenizer: Any, model: Any, wanted: int) -> int:
    """The longest input the encoder accepts; asking for more would fail at scoring time."""
    limits = [wanted]
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        limits.append(model_max)
    limit = min(limits)
    if limit < wanted:
        logger.warning(
            "max_length %d exceeds what %s accepts; using %d", wanted, model.name_or_path, limit
        )
    return limit


def load_base(config: TrainConfig, model_class: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The base encoder's tokenizer and model; a model that cannot be found is bad input."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base_model)
        model = model_class.from_pretrained(config.base_model, **kwargs)
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot load --base-model {config.base_model!r}: {err}") from err
    return tokenizer, model
