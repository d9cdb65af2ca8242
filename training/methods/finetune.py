"""Fine-tune a Hugging Face encoder for sequence classification with the Trainer.

Class-weighted cross-entropy, dynamic padding, a checkpoint per evaluation, the best one by
validation average precision, early stopping, and resumption after an interrupt.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score
from transformers import (
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    EvalPrediction,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from training.config import ConfigError, TrainConfig
from training.inference.device import pick_device
from training.inference.layout import texts_of
from training.methods import FitResult, encoder_max_length, load_base
from training.split import DateSplit

logger = logging.getLogger(__name__)

BEST_METRIC = "average_precision"
LABELS = {0: "not interesting", 1: "interesting"}


class EncodedTexts(torch.utils.data.Dataset):
    """Token ids without padding; the collator pads each batch to its longest text."""

    def __init__(self, encodings: dict[str, list[list[int]]], labels: np.ndarray):
        self.encodings, self.labels = encodings, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item: dict[str, Any] = {key: values[index] for key, values in self.encodings.items()}
        item["labels"] = int(self.labels[index])
        return item


class WeightedLossTrainer(Trainer):
    """The Trainer with a class-weighted cross-entropy: positives are rare."""

    def __init__(self, *args: Any, class_weights: torch.Tensor | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits = outputs.logits.float()
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 2), labels.view(-1), weight=weight)
        return (loss, outputs) if return_outputs else loss


def class_weights_for(labels: np.ndarray) -> torch.Tensor:
    """Inverse class frequency, scaled so a balanced set would get weight 1 per class."""
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    return torch.tensor(len(labels) / (2.0 * counts), dtype=torch.float32)


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    logits = prediction.predictions
    if isinstance(logits, tuple):
        logits = logits[0]
    scores = torch.softmax(torch.as_tensor(logits, dtype=torch.float32), dim=-1)[:, 1].numpy()
    labels = np.asarray(prediction.label_ids)
    return {BEST_METRIC: float(average_precision_score(labels, scores))}


def mixed_precision(config: TrainConfig, device: torch.device) -> tuple[bool, bool]:
    """(bf16, fp16): bf16 where the GPU has it, fp16 on other CUDA GPUs, fp32 elsewhere."""
    if config.precision == "fp32":
        return False, False
    if config.precision in ("bf16", "fp16"):
        if device.type != "cuda" and config.precision == "fp16":
            raise ConfigError(f"--precision fp16 needs a CUDA GPU; the device is {device.type}")
        return config.precision == "bf16", config.precision == "fp16"
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return bf16, not bf16
    return False, False


def _encode(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], labels: np.ndarray, max_length: int
) -> EncodedTexts:
    encodings = tokenizer(texts, truncation=True, max_length=max_length)
    return EncodedTexts({key: list(value) for key, value in encodings.items()}, labels)


def fit_finetune(config: TrainConfig, split: DateSplit, model_dir: Path) -> FitResult:
    device = pick_device(config.device)
    bf16, fp16 = mixed_precision(config, device)
    tokenizer, model = load_base(
        config,
        AutoModelForSequenceClassification,
        num_labels=2,
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
    )
    max_length = encoder_max_length(tokenizer, model, config.max_length)
    train_labels = split.train["interest"].to_numpy()
    train_set = _encode(
        tokenizer, texts_of(split.train, config.text_fields), train_labels, max_length
    )
    val_set = _encode(
        tokenizer,
        texts_of(split.validation, config.text_fields),
        split.validation["interest"].to_numpy(),
        max_length,
    )
    weights = class_weights_for(train_labels) if config.class_weights else None
    checkpoints = config.checkpoint_path
    resume_from = _resume_point(config, checkpoints)

    strategy = "steps" if config.eval_steps else "epoch"
    args = training_arguments(config, device, checkpoints, evaluate=True)
    callbacks = []
    if config.early_stopping_patience:
        callbacks.append(
            EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)
        )
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        class_weights=weights,
    )
    logger.info(
        "fine-tuning %s on %s (bf16=%s, fp16=%s): %d train, %d validation texts, max %d tokens",
        config.base_model,
        device,
        bf16,
        fp16,
        len(train_set),
        len(val_set),
        max_length,
    )
    output = trainer.train(resume_from_checkpoint=resume_from)
    state = trainer.state
    trainer.save_model(str(model_dir))  # the best checkpoint, with its tokenizer
    evaluations = [
        {
            "epoch": entry.get("epoch"),
            "step": entry.get("step"),
            "validation_ap": entry[f"eval_{BEST_METRIC}"],
        }
        for entry in state.log_history
        if f"eval_{BEST_METRIC}" in entry
    ]
    if not config.keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return FitResult(
        max_length=max_length,
        base_model=config.base_model,
        hyperparameters={
            "epochs": config.epochs,
            "max_steps": config.max_steps,
            "learning_rate": config.learning_rate,
            "weight_decay": config.weight_decay,
            "warmup_ratio": config.warmup_ratio,
            "batch_size": config.batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "max_length": max_length,
            "class_weights": None if weights is None else [round(float(w), 4) for w in weights],
            "early_stopping_patience": config.early_stopping_patience,
            "evaluation": strategy if not config.eval_steps else f"every {config.eval_steps} steps",
            "bf16": bf16,
            "fp16": fp16,
            "device": str(device),
        },
        details={
            "best_checkpoint_validation_ap": state.best_metric,
            "best_checkpoint": Path(state.best_model_checkpoint).name
            if state.best_model_checkpoint
            else None,
            "steps": state.global_step,
            "epochs_run": state.epoch,
            "train_loss": output.training_loss,
            "evaluations": evaluations,
            "resumed_from": Path(resume_from).name if isinstance(resume_from, str) else None,
        },
    )


def training_arguments(
    config: TrainConfig,
    device: torch.device,
    output_dir: Path,
    *,
    evaluate: bool,
    epochs: float | None = None,
    max_steps: int | None = None,
) -> TrainingArguments:
    """The notebook's schedule; ``evaluate`` keeps a checkpoint per evaluation and the best one
    by validation AP, otherwise (a refit on every label) it trains to the end and keeps that."""
    bf16, fp16 = mixed_precision(config, device)
    strategy = "steps" if config.eval_steps else "epoch"
    every_n_steps: dict[str, Any] = (
        {"eval_steps": n, "save_steps": n, "logging_steps": n}
        if (n := config.eval_steps) and evaluate
        else {}
    )
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs if epochs is None else epochs,
        max_steps=config.max_steps if max_steps is None else max_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps
        lr_scheduler_type="linear",
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        eval_strategy=strategy if evaluate else "no",
        save_strategy=strategy if evaluate else "no",
        save_total_limit=2,
        load_best_model_at_end=evaluate,
        metric_for_best_model=BEST_METRIC if evaluate else None,
        greater_is_better=True,
        logging_strategy=strategy,
        **every_n_steps,
        bf16=bf16,
        fp16=fp16,
        use_cpu=device.type == "cpu",
        seed=config.seed,
        data_seed=config.seed,
        disable_tqdm=not config.progress,
        report_to="none",
        dataloader_pin_memory=device.type == "cuda",
    )


def best_length(fitted: FitResult) -> tuple[float | None, int | None]:
    """(epochs, steps) of the best checkpoint: how long the refit on every label trains."""
    evaluations = fitted.details.get("evaluations") or []
    if not evaluations:
        return None, None
    best = max(evaluations, key=lambda e: e["validation_ap"])
    return best.get("epoch"), best.get("step")


def refit_finetune(
    config: TrainConfig, rows: pd.DataFrame, model_dir: Path, fitted: FitResult
) -> dict[str, Any]:
    """Fine-tune the base model afresh on every labelled row, for as long as the best checkpoint
    trained (its steps when --max-steps bounds the run, else its epochs), and save the final
    weights in place of the split model's."""
    device = pick_device(config.device)
    epochs, steps = best_length(fitted)
    tokenizer, model = load_base(
        config,
        AutoModelForSequenceClassification,
        num_labels=2,
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
    )
    labels = rows["interest"].to_numpy()
    dataset = _encode(tokenizer, texts_of(rows, config.text_fields), labels, fitted.max_length)
    bounded = config.max_steps > 0 and steps is not None
    scratch = config.checkpoint_path.with_name(config.checkpoint_path.name + "-refit")
    args = training_arguments(
        config,
        device,
        scratch,
        evaluate=False,
        epochs=None if bounded or epochs is None else float(epochs),
        max_steps=int(steps) if bounded and steps is not None else config.max_steps,
    )
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        class_weights=class_weights_for(labels) if config.class_weights else None,
    )
    logger.info("refitting %s on all %d labels", config.base_model, len(rows))
    trainer.train()
    trainer.save_model(str(model_dir))
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "epochs": args.num_train_epochs if args.max_steps <= 0 else None,
        "steps": trainer.state.global_step,
    }


def _resume_point(config: TrainConfig, checkpoints: Path) -> str | None:
    if not config.resume:
        if checkpoints.exists() and any(checkpoints.glob("checkpoint-*")):
            if not config.overwrite:
                raise ConfigError(
                    f"{checkpoints} holds checkpoints of an interrupted run: add --resume to "
                    "continue it, or --overwrite to start afresh"
                )
            logger.warning("--overwrite: deleting the earlier run's checkpoints in %s", checkpoints)
            shutil.rmtree(checkpoints)
        return None
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is None:
        logger.warning("--resume: no checkpoint in %s; starting from the beginning", checkpoints)
        return None
    logger.info("resuming from %s", last)
    return last
