"""Training arguments: one validated dataclass, readable from the command line or a config file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from training.inference.artifact import META_FIELDS, METHODS, TEXT_FIELDS

DEFAULT_BASE_MODEL = "answerdotai/ModernBERT-base"

ThresholdStrategy = Literal["f1", "precision", "recall", "per_day"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]
Device = Literal["auto", "cuda", "mps", "cpu"]

# Metadata the tfidf method reads by default. Categories are left to --meta-fields: on the
# benchmark they add nothing to authors + comment, and on a few hundred labels they cost AP.
DEFAULT_META_FIELDS = ("authors", "comment")

# Fields that do not change what is trained; a resumed run may differ in them.
RUN_ONLY_FIELDS = frozenset({"resume", "progress", "overwrite"})


# Fields that say where and how a run goes, not what it trains: two models whose configurations
# differ only in these were trained by the same recipe (the retrain gate compares recipes). The
# early model's fields do not touch a measured model.
NOT_RECIPE_FIELDS = frozenset(
    {
        *RUN_ONLY_FIELDS,
        "output",
        "data",
        "device",
        "eval_batch_size",
        "int8_check",
        "checkpoint_dir",
        "keep_checkpoints",
        "weak_negative_weight",
        "weak_negatives",
        "pseudo_positives",
        "pseudo_positive_weight",
        "early_c",
        "daily_picks",
    }
)


def recipe(config: dict[str, Any]) -> dict[str, Any]:
    """What a saved training configuration says about the model it trains."""
    return {k: v for k, v in config.items() if k not in NOT_RECIPE_FIELDS}


class ConfigError(ValueError):
    """A training argument that cannot work; the message names the argument and its value."""


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class TrainConfig:
    # What to train on and where to put it.
    output: str = field(
        default="",
        metadata=_help(
            "Model directory to write, e.g. models/my-model.", required=True, metavar="DIR"
        ),
    )
    data: str | None = field(
        default=None,
        metadata=_help(
            "Labelled CSV: paper_id,title,abstract,categories,submission_date,interest, and "
            "optionally authors (names separated by ';') and comment. Training reads it only: "
            "the service's labels are those given on its page or with `arxiv-reco labels import`.",
            metavar="CSV",
        ),
    )
    method: str = field(
        default="finetune",
        metadata=_help(
            "finetune (a Hugging Face encoder), tfidf (TF-IDF + logistic regression) or "
            "embed (frozen encoder embeddings + logistic regression).",
            choices=list(METHODS),
        ),
    )
    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata=_help("Hugging Face model id or local path of the encoder (finetune, embed)."),
    )
    text_fields: list[str] = field(
        default_factory=lambda: list(TEXT_FIELDS),
        metadata=_help("Which fields form the input text, in order: title and/or abstract."),
    )
    meta_fields: list[str] = field(
        default_factory=lambda: list(DEFAULT_META_FIELDS),
        metadata=_help(
            "tfidf: paper metadata read besides the text, each as its own TF-IDF block: any of "
            "authors, categories, comment, or none for the text alone. A field that is empty in "
            "every training row is left out, and the model records the fields it used. Other "
            "methods read the text only."
        ),
    )
    meta_weight: float = field(
        default=0.5,
        metadata=_help("tfidf: weight of each metadata block against the text block (1.0)."),
    )
    # Split and threshold.
    val_fraction: float = field(
        default=0.2, metadata=_help("Share of rows (by date, after train) used for validation.")
    )
    test_fraction: float = field(
        default=0.2, metadata=_help("Share of the newest rows held out as the test split.")
    )
    threshold_strategy: ThresholdStrategy = field(
        default="f1",
        metadata=_help(
            "How the threshold is chosen on validation: best f1, a target precision, a target "
            "recall, or an expected number of recommended papers per day (per_day)."
        ),
    )
    threshold_target: float | None = field(
        default=None,
        metadata=_help(
            "The target for --threshold-strategy precision/recall (0..1) or per_day (papers)."
        ),
    )
    calibration: Literal["platt", "none"] = field(
        default="platt",
        metadata=_help(
            "platt: map raw scores to calibrated probabilities, fit on validation (a paper at "
            "70%% was interesting about 7 times in 10 there); none: serve raw scores."
        ),
    )
    refit_all: Literal["auto", "yes", "no"] = field(
        default="auto",
        metadata=_help(
            "After choosing the configuration and threshold on the split and reporting test, "
            "refit the chosen configuration on every label and serve that fit (finetune: afresh "
            "from the base model, for as long as the best checkpoint trained). auto: yes for "
            "tfidf and embed, and for finetune on a CUDA GPU; no for finetune on a CPU or MPS."
        ),
    )
    # Fine-tuning (the notebook's hyper-parameters, but 512 tokens).
    epochs: float = field(default=7.0, metadata=_help("Training epochs (finetune)."))
    max_steps: int = field(
        default=-1, metadata=_help("Stop after this many optimiser steps; -1 means use epochs.")
    )
    learning_rate: float = field(default=5e-6, metadata=_help("Peak learning rate (finetune)."))
    weight_decay: float = field(default=0.05, metadata=_help("AdamW weight decay (finetune)."))
    warmup_ratio: float = field(
        default=0.1, metadata=_help("Share of the steps spent warming up the learning rate.")
    )
    batch_size: int = field(default=32, metadata=_help("Training batch size (finetune)."))
    eval_batch_size: int = field(
        default=32, metadata=_help("Batch size for scoring and embedding.")
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata=_help("Batches accumulated per optimiser step (finetune).")
    )
    max_length: int = field(
        default=512, metadata=_help("Tokens kept per text (finetune, embed); longer is cut.")
    )
    class_weights: bool = field(
        default=True,
        metadata=_help(
            "Weight the loss by inverse class frequency.",
            negated_help="Weigh every label alike in the loss.",
        ),
    )
    early_stopping_patience: int = field(
        default=2,
        metadata=_help("Evaluations without a better validation AP before stopping (0: never)."),
    )
    eval_steps: int | None = field(
        default=None,
        metadata=_help("Evaluate and checkpoint every N steps instead of every epoch."),
    )
    precision: Precision = field(
        default="auto",
        metadata=_help("auto: bf16 on CUDA GPUs that support it, else fp16 on CUDA, else fp32."),
    )
    device: Device = field(default="auto", metadata=_help("auto picks CUDA, then MPS, then CPU."))
    int8_check: Literal["auto", "yes", "no"] = field(
        default="auto",
        metadata=_help(
            "finetune: score validation with int8 CPU quantisation too and record whether it "
            "changes average precision by at most 0.005; the service then scores with int8 on "
            "the CPU. auto: only when training on the CPU."
        ),
    )
    checkpoint_dir: str | None = field(
        default=None,
        metadata=_help("Where fine-tuning checkpoints go; default <output>.checkpoints."),
    )
    resume: bool = field(
        default=False,
        metadata=_help("Continue an interrupted fine-tuning run from its last checkpoint."),
    )
    keep_checkpoints: bool = field(
        default=False, metadata=_help("Keep the checkpoint directory after a successful run.")
    )
    # The fast methods.
    c_grid: list[float] = field(
        default_factory=lambda: [0.01, 0.1, 1.0, 10.0, 100.0],
        metadata=_help("Logistic regression C values tried on validation (tfidf, embed)."),
    )
    recency_half_life_days: float | None = field(
        default=None,
        metadata=_help(
            "tfidf, embed: weigh each label by its age, halving every this many days before "
            "the newest label, so recent taste counts more; none weighs all labels alike."
        ),
    )
    tfidf_char_ngrams: bool = field(
        default=False,
        metadata=_help("tfidf: add character 3-5-grams of the text as a block of their own."),
    )
    second_stage: bool = field(
        default=False,
        metadata=_help(
            "tfidf: a second stage weighs the text model's out-of-fold score beside the authors' "
            "and the primary category's record of ✓ and ✕, links to code or a project page and "
            "a few counts (training.stack)."
        ),
    )
    tfidf_min_df: int = field(default=2, metadata=_help("Ignore n-grams seen in fewer rows."))
    tfidf_max_features: int | None = field(
        default=200_000, metadata=_help("Keep at most this many n-grams (tfidf).")
    )
    # The early model (training.early): a few interesting papers, the stored papers as weak
    # negatives. Chosen by bench/coldstart.py (bench/README.md).
    weak_negative_weight: float = field(
        default=0.1,
        metadata=_help(
            "early model: weight of an unlabelled stored paper, taken as a weak negative, "
            "against an explicit “not for me” (1.0)."
        ),
    )
    weak_negatives: int = field(
        default=5000,
        metadata=_help("early model: at most this many unlabelled stored papers train with it."),
    )
    pseudo_positives: int = field(
        default=30,
        metadata=_help(
            "early model: the stored papers a first fit likes most that refit it as weak "
            "interesting ones (pseudo-relevance feedback); 0 turns it off."
        ),
    )
    pseudo_positive_weight: float = field(
        default=0.1,
        metadata=_help("early model: weight of a pseudo-positive against an explicit ✓ (1.0)."),
    )
    early_c: float = field(
        default=1.0, metadata=_help("early model: the logistic regression's C (fixed).")
    )
    daily_picks: int = field(
        default=10,
        metadata=_help(
            "early model: the threshold lets about this many papers of a typical day through."
        ),
    )
    # Run.
    seed: int = field(default=42, metadata=_help("Seed for Python, NumPy and torch."))
    progress: bool = field(
        default=True, metadata=_help("Show progress bars.", negated_help="Hide progress bars.")
    )
    overwrite: bool = field(default=False, metadata=_help("Replace an existing --output."))

    def __post_init__(self) -> None:
        if not self.output:
            raise ConfigError("--output is required: the model directory to write")
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {list(METHODS)}, got {self.method!r}")
        bad = [f for f in self.text_fields if f not in TEXT_FIELDS]
        if bad or not self.text_fields or len(set(self.text_fields)) != len(self.text_fields):
            raise ConfigError(
                f"--text-fields must be distinct names from {list(TEXT_FIELDS)}, "
                f"got {self.text_fields}"
            )
        self._check_meta_fields()
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"--{_flag(name)} must be between 0 and 1, got {value}")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError(
                f"--val-fraction + --test-fraction must leave at least 10% to train, got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        self._check_threshold()
        positive_ints = ("batch_size", "eval_batch_size", "gradient_accumulation_steps")
        for name in (*positive_ints, "max_length", "tfidf_min_df", "weak_negatives", "daily_picks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{_flag(name)} must be at least 1, got {getattr(self, name)}")
        if not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ConfigError(f"--epochs must be positive, got {self.epochs}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"--max-steps must be -1 or positive, got {self.max_steps}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ConfigError(f"--learning-rate must be in (0, 1), got {self.learning_rate}")
        if self.weight_decay < 0:
            raise ConfigError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"--warmup-ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.early_stopping_patience < 0:
            raise ConfigError(
                f"--early-stopping-patience must be >= 0, got {self.early_stopping_patience}"
            )
        if self.eval_steps is not None and self.eval_steps < 1:
            raise ConfigError(f"--eval-steps must be at least 1, got {self.eval_steps}")
        if not self.c_grid or any(not (c > 0) for c in self.c_grid):
            raise ConfigError(f"--c-grid must be positive numbers, got {self.c_grid}")
        if self.pseudo_positives < 0:
            raise ConfigError(f"--pseudo-positives must be >= 0, got {self.pseudo_positives}")
        for name in ("weak_negative_weight", "early_c", "pseudo_positive_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"--{_flag(name)} must be positive, got {value}")
        if self.recency_half_life_days is not None and not (
            math.isfinite(self.recency_half_life_days) and self.recency_half_life_days > 0
        ):
            raise ConfigError(
                f"--recency-half-life-days must be positive, got {self.recency_half_life_days}"
            )
        if self.tfidf_max_features is not None and self.tfidf_max_features < 1:
            raise ConfigError(
                f"--tfidf-max-features must be at least 1, got {self.tfidf_max_features}"
            )
        if self.refit_all not in ("auto", "yes", "no"):
            raise ConfigError(f"--refit-all must be auto, yes or no, got {self.refit_all!r}")
        if self.calibration not in ("platt", "none"):
            raise ConfigError(f"--calibration must be platt or none, got {self.calibration!r}")
        if self.int8_check not in ("auto", "yes", "no"):
            raise ConfigError(f"--int8-check must be auto, yes or no, got {self.int8_check!r}")

    def _check_meta_fields(self) -> None:
        if isinstance(self.meta_fields, str):  # a config file's single name
            self.meta_fields = [self.meta_fields]
        if self.meta_fields == ["none"]:  # the command line's way to say "no metadata"
            self.meta_fields = []
        bad = [f for f in self.meta_fields if f not in META_FIELDS]
        if bad or len(set(self.meta_fields)) != len(self.meta_fields):
            raise ConfigError(
                f"--meta-fields must be distinct names from {list(META_FIELDS)} or none, "
                f"got {self.meta_fields}"
            )
        if not (math.isfinite(self.meta_weight) and self.meta_weight > 0):
            raise ConfigError(f"--meta-weight must be positive, got {self.meta_weight}")

    def _check_threshold(self) -> None:
        strategy, target = self.threshold_strategy, self.threshold_target
        if strategy not in ("f1", "precision", "recall", "per_day"):
            raise ConfigError(
                f"--threshold-strategy must be f1, precision, recall or per_day, got {strategy!r}"
            )
        if strategy == "f1":
            if target is not None:
                raise ConfigError("--threshold-target is only used with precision, recall, per_day")
            return
        if target is None:
            raise ConfigError(f"--threshold-strategy {strategy} needs --threshold-target")
        if strategy in ("precision", "recall") and not 0.0 < target <= 1.0:
            raise ConfigError(f"--threshold-target for {strategy} must be in (0, 1], got {target}")
        if strategy == "per_day" and not target > 0:
            raise ConfigError(f"--threshold-target for per_day must be positive, got {target}")

    @property
    def output_path(self) -> Path:
        return Path(self.output)

    @property
    def checkpoint_path(self) -> Path:
        if self.checkpoint_dir:
            return Path(self.checkpoint_dir)
        return self.output_path.with_name(self.output_path.name + ".checkpoints")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Arguments from a JSON or YAML file, keyed by the argument names (``base_model``...)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raise ConfigError(f"config file {path}: expected a .json, .yaml or .yml file")
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot parse config file {path}: {err}") from err
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: expected a mapping of arguments, got {raw!r}")
    known = set(field_names())
    normalised = {str(key).replace("-", "_"): value for key, value in raw.items()}
    unknown = sorted(set(normalised) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown arguments {unknown}")
    return normalised
