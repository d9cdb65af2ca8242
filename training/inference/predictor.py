"""Load a model directory and score texts with it.

Training-time evaluation, the daily job and ``POST /score`` all go through :func:`load_predictor`,
so what was measured is what is served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from training.inference.artifact import (
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
from training.inference.second_stage import SecondStage

if TYPE_CHECKING:
    from training.inference.shared import SharedBatch

logger = logging.getLogger(__name__)

# How an encoder model scores on the CPU (training.inference.encoder).
Precision = Literal["auto", "fp32", "int8"]


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
        # Only an encoder model loads torch and transformers (seconds, and most of a process's
        # memory): a service of tfidf models starts without them.
        from training.inference import encoder
        from training.inference.device import pick_device

        target = pick_device(device)  # an unavailable device is the caller's error, not the model's
    try:
        if meta.method == "tfidf":
            predictor = TfidfPredictor(path, meta)
        elif meta.method == "embed":
            predictor = encoder.EmbedPredictor(path, meta, target, batch_size)
        else:
            predictor = encoder.TransformerPredictor(
                path, meta, target, batch_size, precision=precision
            )
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
