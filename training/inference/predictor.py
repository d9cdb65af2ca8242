"""Load a model directory and score texts with it.

Training-time evaluation, the daily job and ``POST /score`` all go through :func:`load_predictor`,
so what was measured is what is served.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd
import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
from tqdm.auto import tqdm
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from training.inference.artifact import (
    EMBED_CLASSIFIER_FILE,
    ENCODER_DIR,
    SECOND_STAGE_FILE,
    TEXT_COLUMN,
    TFIDF_PIPELINE_FILE,
    ArtifactError,
    ModelMeta,
    PaperInput,
    compose_text,
    load_pickled,
    metadata_frame,
)
from training.inference.calibration import Calibration
from training.inference.device import pick_device
from training.inference.second_stage import SecondStage

if TYPE_CHECKING:
    from training.inference.shared import SharedBatch

logger = logging.getLogger(__name__)


class Predictor(Protocol):
    meta: ModelMeta
    path: Path
    scoring_path: str

    @property
    def device(self) -> str: ...

    def predict_proba(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Probability of interest for each text, in input order."""
        ...


def score_papers(
    predictor: Predictor,
    papers: Sequence[PaperInput | tuple[str | None, str]],
    *,
    progress: bool = False,
    shared: SharedBatch | None = None,
) -> np.ndarray:
    """Score papers with the inputs the model was trained on: its text layout and, for a tfidf
    model that reads them, its metadata fields. A ``(title, abstract)`` pair has no metadata.
    The probabilities are calibrated when the model records a calibration. ``shared``: the
    batch ``papers`` are, whose work every tfidf model scoring it shares (``score_together``).
    """
    raw = score_papers_raw(predictor, papers, progress=progress, shared=shared)
    calibration = predictor.meta.calibration
    if calibration is None or len(raw) == 0:
        return raw
    return Calibration.from_dict(calibration).apply(raw)


def score_papers_raw(
    predictor: Predictor,
    papers: Sequence[PaperInput | tuple[str | None, str]],
    *,
    progress: bool = False,
    shared: SharedBatch | None = None,
) -> np.ndarray:
    """The model's own output, before calibration (training fits the calibration on it)."""
    if shared is not None and papers is not shared.papers:
        raise ValueError("score_papers: with shared=batch, score batch.papers")
    inputs = shared.papers if shared is not None else [PaperInput.of(p) for p in papers]
    meta = predictor.meta
    if meta.meta_fields:
        if not isinstance(predictor, TfidfPredictor):
            raise ArtifactError(
                f"{predictor.path}: only tfidf models read meta_fields, not {meta.method}"
            )

        def frame() -> pd.DataFrame:
            return metadata_frame(
                inputs, text_fields=meta.text_fields, meta_fields=meta.meta_fields
            )

        text_scores = predictor.predict_frame(
            shared.memo(("frame", *meta.text_fields, "|", *meta.meta_fields), frame)
            if shared is not None
            else frame(),
            shared=shared,
        )
    else:

        def texts() -> list[str]:
            return [compose_text(p.title, p.abstract, meta.text_fields) for p in inputs]

        if isinstance(predictor, TfidfPredictor):
            made = shared.memo(("texts", *meta.text_fields), texts) if shared else texts()
            text_scores = predictor.predict_proba(made, shared=shared)
        else:
            text_scores = predictor.predict_proba(texts(), progress=progress)
    stage = getattr(predictor, "second_stage", None)
    return text_scores if stage is None else stage.predict(inputs, text_scores, shared=shared)


def score_together(
    predictors: Sequence[Predictor],
    papers: Sequence[PaperInput | tuple[str | None, str]],
    *,
    progress: bool = False,
) -> list[np.ndarray]:
    """Each predictor's ``score_papers`` of the same papers, the tfidf models sharing the work
    that depends on the papers alone (``training.inference.shared``): the time of several topics'
    models grows far slower than their number."""
    from training.inference.shared import SharedBatch

    batch = SharedBatch(papers)
    return [
        score_papers(predictor, batch.papers, progress=progress, shared=batch)
        for predictor in predictors
    ]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches of similar length, so dynamic padding pads little."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def run_batched(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int,
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    device: torch.device,
    progress: bool = False,
    desc: str = "scoring",
) -> np.ndarray:
    """Tokenise once, batch by length, pad each batch only to its longest text, and run."""
    if not texts:
        return np.zeros((0,), dtype=np.float32)
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    input_ids: list[list[int]] = encoded["input_ids"]
    batches = length_sorted_batches([len(ids) for ids in input_ids], batch_size)
    outputs: list[np.ndarray | None] = [None] * len(texts)
    with torch.inference_mode():
        for batch in tqdm(batches, desc=desc, disable=not progress, unit="batch"):
            features = tokenizer.pad(
                {"input_ids": [input_ids[i] for i in batch]}, return_tensors="pt"
            )
            tensors = {k: v.to(device) for k, v in features.items()}
            result = forward(tensors).float().cpu().numpy()
            for row, index in zip(result, batch, strict=True):
                outputs[index] = row
    return np.stack(outputs)  # type: ignore[arg-type]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    return summed / mask.sum(dim=1).clamp(min=1e-9)


def embed_texts(
    encoder: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int,
    device: torch.device,
    progress: bool = False,
) -> np.ndarray:
    """L2-normalised mean-pooled embeddings; the ``embed`` method trains and serves on these."""

    def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = encoder(**batch).last_hidden_state
        pooled = mean_pool(hidden, batch["attention_mask"])
        return torch.nn.functional.normalize(pooled, dim=-1)

    return run_batched(
        tokenizer,
        texts,
        max_length=max_length,
        batch_size=batch_size,
        forward=forward,
        device=device,
        progress=progress,
        desc="embedding",
    )


INT8_CHECK = "int8_check"  # key in ModelMeta.info: the int8-vs-fp32 accuracy check
INT8_MAX_AP_CHANGE = 0.005
# The quantisation the check ran with; a check of another scheme does not vouch for this one.
INT8_SCHEME = "dynamic-per-channel"
Precision = Literal["auto", "fp32", "int8"]


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of every Linear layer, the CPU scoring path: weights int8 with
    one scale per output channel, activations quantised on the fly. Per-channel scales halve the
    largest probability change against one scale per matrix (0.15 vs 0.32 on the benchmark's
    fine-tuned MiniLM) at the same speed."""
    with warnings.catch_warnings():
        # PyTorch marks its quantised tensor types as deprecated; they still run here.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )


def int8_passed(meta: ModelMeta) -> bool:
    check = meta.info.get(INT8_CHECK) or {}
    return bool(check.get("passed")) and check.get("scheme") == INT8_SCHEME


class TransformerPredictor:
    """A fine-tuned sequence-classification checkpoint (ModernBERT by default)."""

    def __init__(
        self,
        path: Path,
        meta: ModelMeta,
        device: torch.device,
        batch_size: int,
        precision: Precision = "auto",
    ):
        self.path, self.meta, self.batch_size = path, meta, batch_size
        self._device = device
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path)
        self.model.to(device).eval()
        on_cpu = device.type == "cpu"
        if precision == "int8" and not on_cpu:
            raise ValueError(f"int8 scoring runs on the CPU only, not on {device}")
        # auto: int8 on the CPU when the model passed the accuracy check at training time.
        use_int8 = precision == "int8" or (precision == "auto" and on_cpu and int8_passed(meta))
        if use_int8:
            self.model = quantize_int8(self.model)
        self.scoring_path = "int8-dynamic" if use_int8 else "fp32"

    @property
    def device(self) -> str:
        return str(self._device)

    def predict_proba(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logits = self.model(**batch).logits
            return torch.softmax(logits.float(), dim=-1)[:, 1]

        return run_batched(
            self.tokenizer,
            texts,
            max_length=self.meta.max_length,
            batch_size=self.batch_size,
            forward=forward,
            device=self._device,
            progress=progress,
        )


class EmbedPredictor:
    """A frozen encoder's mean-pooled embeddings fed to a logistic regression."""

    scoring_path = "fp32"

    def __init__(self, path: Path, meta: ModelMeta, device: torch.device, batch_size: int):
        self.path, self.meta, self.batch_size = path, meta, batch_size
        self._device = device
        encoder_dir = path / ENCODER_DIR
        self.tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
        self.encoder = AutoModel.from_pretrained(encoder_dir)
        self.encoder.to(device).eval()
        self.classifier: Any = load_pickled(path, EMBED_CLASSIFIER_FILE)

    @property
    def device(self) -> str:
        return str(self._device)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return embed_texts(
            self.encoder,
            self.tokenizer,
            texts,
            max_length=self.meta.max_length,
            batch_size=self.batch_size,
            device=self._device,
            progress=progress,
        )

    def predict_proba(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0,), dtype=np.float32)
        probabilities = self.classifier.predict_proba(self.embed(texts, progress=progress))
        return np.asarray(probabilities[:, 1], dtype=np.float32)


class TfidfPredictor:
    """A scikit-learn pipeline (TF-IDF and logistic regression)."""

    device = "cpu"
    scoring_path = "sklearn"

    def __init__(self, path: Path, meta: ModelMeta):
        self.path, self.meta = path, meta
        self.pipeline: Any = load_pickled(path, TFIDF_PIPELINE_FILE)
        # training.stack: applied to the pipeline's score by score_papers_raw, which has the
        # papers' metadata; predict_proba and predict_frame give the text model's own score.
        self.second_stage: SecondStage | None = (
            load_pickled(path, SECOND_STAGE_FILE) if (path / SECOND_STAGE_FILE).is_file() else None
        )
        self._feature_names: np.ndarray | None = None

    @property
    def feature_names(self) -> np.ndarray:
        """The features' names, built once (0.35 s for a 200,000-term vocabulary)."""
        if self._feature_names is None:
            names = self.pipeline[:-1].get_feature_names_out()
            self._feature_names = np.asarray(names, dtype=object)
        return self._feature_names

    @property
    def reads_frame(self) -> bool:
        """Its features are named blocks of a frame (metadata, character n-grams), not a
        vectorizer of plain strings."""
        return hasattr(self.pipeline[0], "transformers")

    def predict_proba(
        self,
        texts: Sequence[str],
        *,
        progress: bool = False,
        shared: SharedBatch | None = None,
    ) -> np.ndarray:
        """Texts alone; a model that also reads metadata sees it empty (see score_papers)."""
        if not self.reads_frame:
            return self._predict(list(texts), shared)
        empty = {name: [""] * len(texts) for name in self.meta.meta_fields}
        return self.predict_frame(pd.DataFrame({TEXT_COLUMN: list(texts), **empty}), shared=shared)

    def predict_frame(
        self, frame: pd.DataFrame, *, shared: SharedBatch | None = None
    ) -> np.ndarray:
        """A metadata model's input, as ``training.inference.artifact.metadata_frame`` makes it."""
        return self._predict(frame, shared)

    def _predict(
        self, inputs: list[str] | pd.DataFrame, shared: SharedBatch | None = None
    ) -> np.ndarray:
        if len(inputs) == 0:
            return np.zeros((0,), dtype=np.float32)
        if shared is not None:
            return shared.predict(self.pipeline, inputs)
        return np.asarray(self.pipeline.predict_proba(inputs)[:, 1], dtype=np.float32)


# Scored once when a model is opened: a model that cannot score it is not served.
SMOKE_PAPER = PaperInput(
    title="A test paper",
    abstract="We check that the model scores an abstract.",
    authors=("Ada Lovelace",),
    categories=("cs.LG",),
    comment="8 pages",
)


def load_predictor(
    path: str | Path, *, device: str = "auto", batch_size: int = 16, precision: Precision = "auto"
) -> Predictor:
    """Open any model directory that training wrote and score one paper with it; raises
    ArtifactError if it cannot, whatever is wrong with its files (missing, truncated, zeroed, a
    pickle of something else), so that a caller can keep the model it has."""
    path = Path(path)
    started = time.perf_counter()
    meta = ModelMeta.load(path)
    predictor: Predictor
    if meta.method != "tfidf":
        target = pick_device(device)  # an unavailable device is the caller's error, not the model's
    try:
        if meta.method == "tfidf":
            predictor = TfidfPredictor(path, meta)
        elif meta.method == "embed":
            predictor = EmbedPredictor(path, meta, target, batch_size)
        else:
            predictor = TransformerPredictor(path, meta, target, batch_size, precision=precision)
        check = score_papers(predictor, [SMOKE_PAPER])
        if check.shape != (1,) or not 0.0 <= float(check[0]) <= 1.0:
            raise ValueError(f"scoring a test paper gave {check!r}, not one probability")
    except Exception as err:  # any failure of the files: the message names the model
        raise ArtifactError(
            f"cannot load the {meta.method} model in {path}: {type(err).__name__}: {err}"
        ) from err
    logger.info(
        "loaded %s model from %s on %s (%s) in %.1fs (threshold %.4f)",
        meta.method,
        path,
        predictor.device,
        predictor.scoring_path,
        time.perf_counter() - started,
        meta.threshold,
    )
    return predictor
