"""The model directory's layout and its metadata file, shared by training and serving."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

META_FILE = "reco_model.json"
TRAIN_CONFIG_FILE = "train_config.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
PR_CURVE_FILE = "pr_curve.png"
# Plain pickles: a 200,000-term vocabulary writes in 0.4 s instead of joblib's 2.3 s and loads in
# 0.1 s instead of 0.8 s, which a nightly retrain (and its gate) pays several times.
TFIDF_PIPELINE_FILE = "pipeline.pkl"
EMBED_CLASSIFIER_FILE = "classifier.pkl"
# A tfidf model's second stage (training.stack), when it has one.
SECOND_STAGE_FILE = "second_stage.pkl"
# What models written before that hold instead; they still load.
LEGACY_FILES = {TFIDF_PIPELINE_FILE: "pipeline.joblib", EMBED_CLASSIFIER_FILE: "classifier.joblib"}
ENCODER_DIR = "encoder"
# Every labelled row the model saw: its split, and the split model's raw score on validation and
# test. The service's retrain gate reads which rows the served model was fit on.
ROWS_FILE = "rows.csv"
FORMAT_VERSION = 1
# A fine-tuned model's int8 CPU scoring (training.inference.encoder), checked at training time.
INT8_CHECK = "int8_check"  # key in ModelMeta.info: the int8-vs-fp32 accuracy check
INT8_MAX_AP_CHANGE = 0.005
# The quantisation the check ran with; a check of another scheme does not vouch for this one.
INT8_SCHEME = "dynamic-per-channel"

Method = Literal["finetune", "tfidf", "embed"]
METHODS: tuple[Method, ...] = ("finetune", "tfidf", "embed")
TEXT_FIELDS = ("title", "abstract")
# Paper metadata a tfidf model may read besides its text, each as its own TF-IDF block.
META_FIELDS = ("authors", "categories", "comment")
TEXT_COLUMN = "text"  # the composed text's column in a metadata model's input frame
AUTHOR_SEPARATOR = ";"  # names in the ``authors`` CSV column and in the model's input


class ArtifactError(ValueError):
    """A model directory that cannot be served: missing files or unreadable metadata."""


@dataclass
class ModelMeta:
    method: Method
    threshold: float
    max_length: int
    base_model: str
    text_fields: list[str] = field(default_factory=lambda: list(TEXT_FIELDS))
    # Metadata the model reads besides its text (tfidf only); empty in models from before them.
    meta_fields: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # data hash, splits, versions, hparams
    # Platt scaling of the raw score, fit on validation (training.calibrate); None: raw scores.
    calibration: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION

    def save(self, directory: Path) -> None:
        _write_json(directory / META_FILE, asdict(self))

    @classmethod
    def load(cls, directory: Path) -> ModelMeta:
        path = Path(directory) / META_FILE
        if not path.is_file():
            raise ArtifactError(f"{directory} is not a model directory: {META_FILE} is missing")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            meta = cls(**raw)
        except (json.JSONDecodeError, TypeError) as err:
            raise ArtifactError(f"cannot read {path}: {err}") from err
        if meta.method not in METHODS:
            raise ArtifactError(f"{path}: unknown method {meta.method!r}; expected {METHODS}")
        if not 0.0 <= float(meta.threshold) <= 1.0:
            raise ArtifactError(f"{path}: threshold {meta.threshold} is not in [0, 1]")
        bad = [f for f in meta.text_fields if f not in TEXT_FIELDS]
        if bad or not meta.text_fields:
            raise ArtifactError(
                f"{path}: text_fields {meta.text_fields} must be from {TEXT_FIELDS}"
            )
        bad = [f for f in meta.meta_fields if f not in META_FIELDS]
        if bad or len(set(meta.meta_fields)) != len(meta.meta_fields):
            raise ArtifactError(
                f"{path}: meta_fields {meta.meta_fields} must be distinct names from {META_FIELDS}"
            )
        if meta.calibration is not None:
            from training.inference.calibration import Calibration

            try:
                Calibration.from_dict(meta.calibration)
            except (KeyError, TypeError, ValueError) as err:
                raise ArtifactError(f"{path}: unreadable calibration: {err}") from err
        if meta.meta_fields and meta.method != "tfidf":
            raise ArtifactError(
                f"{path}: only tfidf models read meta_fields, but this {meta.method} model lists "
                f"{meta.meta_fields}"
            )
        return meta


@dataclass(frozen=True)
class PaperInput:
    """What a model may read about one paper. Metadata that is unknown stays empty."""

    title: str | None
    abstract: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    comment: str | None = None

    @classmethod
    def of(cls, paper: PaperInput | tuple[str | None, str]) -> PaperInput:
        """A PaperInput as is, or a ``(title, abstract)`` pair without metadata."""
        if isinstance(paper, PaperInput):
            return paper
        if isinstance(paper, tuple) and len(paper) == 2:
            return cls(title=paper[0], abstract=paper[1])
        raise TypeError(f"expected a PaperInput or a (title, abstract) pair, got {paper!r}")


def compose_text(title: str | None, abstract: str, fields: Sequence[str] = TEXT_FIELDS) -> str:
    """The model's input text; training and serving both build it here."""
    parts = {"title": title or "", "abstract": abstract or ""}
    return "\n".join(" ".join(parts[name].split()) for name in fields if parts[name].strip())


def metadata_text(paper: PaperInput, name: str) -> str:
    """One metadata field as the text its TF-IDF block reads: author names joined by
    AUTHOR_SEPARATOR (each full name is one token), categories joined by spaces, the comment."""
    if name == "authors":
        return AUTHOR_SEPARATOR.join(a.strip() for a in paper.authors if a.strip())
    if name == "categories":
        return " ".join(c.strip() for c in paper.categories if c.strip())
    if name == "comment":
        return " ".join((paper.comment or "").split())
    raise ValueError(f"unknown metadata field {name!r}; expected one of {META_FIELDS}")


def metadata_frame(
    papers: Sequence[PaperInput], *, text_fields: Sequence[str], meta_fields: Sequence[str]
) -> pd.DataFrame:
    """The input of a tfidf model that reads metadata; training and serving both build it here."""
    import pandas as pd  # here, so that reading the training command line does not load it

    columns = {TEXT_COLUMN: [compose_text(p.title, p.abstract, text_fields) for p in papers]}
    for name in meta_fields:
        columns[name] = [metadata_text(p, name) for p in papers]
    return pd.DataFrame(columns, columns=[TEXT_COLUMN, *meta_fields])


def save_pickle(obj: Any, path: Path) -> None:
    with path.open("wb") as handle:
        pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_pickled(directory: Path, name: str) -> Any:
    """A fitted scikit-learn object of a model directory: ``name``, or the joblib file that
    older models hold. Like any pickle, only load model directories you trust."""
    path = directory / name
    if path.is_file():
        with path.open("rb") as handle:
            return pickle.load(handle)
    import joblib

    return joblib.load(directory / LEGACY_FILES[name])


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


@contextmanager
def atomic_directory(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling directory that becomes ``target`` only if the block succeeds.

    A crash or an exception leaves ``target`` as it was: no half-written model is ever served.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; choose another --output or --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
