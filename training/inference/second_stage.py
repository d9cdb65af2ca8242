"""The second stage a model directory keeps (``second_stage.pkl``) and how serving applies it.

A logistic regression weighs the text model's score beside a few signals a bag of words misses:

- the authors' record: how many of the reader's ✓ and ✕ papers (other than this one) share an
  author with it;
- the primary category's record (the share of ✓ among its labelled papers, smoothed);
- a link to code (GitHub, GitLab, Hugging Face) or to a project page in the abstract or comment;
- the number of authors and the abstract's length.

``SecondStage`` holds the records as they were at fitting time, the scaler and the regression;
``training.inference.predictor.score_papers_raw`` applies it. Fitting it, on out-of-fold scores,
is ``training.stack``'s business.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from training.inference.artifact import PaperInput

if TYPE_CHECKING:
    from training.inference.shared import SharedBatch

CODE = re.compile(r"github\.com|gitlab\.com|huggingface\.co|\bcode\b", re.IGNORECASE)
PROJECT = re.compile(r"github\.io|project page|project website|\bwebsite\b", re.IGNORECASE)
SIGNALS = (
    "text model's log-odds",
    "authors' ✓ papers (log)",
    "authors' ✕ papers (log)",
    "an author with a ✓ paper",
    "primary category's ✓ share (log)",
    "link to code",
    "link to a project page",
    "authors (log)",
    "abstract length (log)",
)


def authors_of(paper: PaperInput) -> set[str]:
    return {" ".join(name.split()).casefold() for name in paper.authors if name.strip()}


def primary_of(paper: PaperInput) -> set[str]:
    return {paper.categories[0]} if paper.categories else set()


Record = dict[str, tuple[int, int]]


def record_of(keys: Sequence[set[str]], labels: np.ndarray) -> Record:
    positive, negative = Counter[str](), Counter[str]()
    for row_keys, label in zip(keys, labels, strict=True):
        (positive if label else negative).update(row_keys)
    return {key: (positive[key], negative[key]) for key in positive.keys() | negative.keys()}


def _counts(keys: Sequence[set[str]], record: Record, own: np.ndarray | None) -> np.ndarray:
    """Each row's ✓ and ✕ counts over its keys; ``own`` (the rows' labels, when the rows are the
    labelled papers themselves) takes each row's own label out."""
    out = np.zeros((len(keys), 2))
    for i, row_keys in enumerate(keys):
        for key in row_keys:
            positive, negative = record.get(key, (0, 0))
            if own is not None:
                positive -= int(own[i])
                negative -= 1 - int(own[i])
            out[i, 0] += positive
            out[i, 1] += negative
    return out


@dataclass
class SecondStage:
    authors: Record
    categories: Record
    scaler: StandardScaler
    model: LogisticRegression
    signals: tuple[str, ...] = field(default=SIGNALS)

    def predict(
        self,
        papers: Sequence[PaperInput],
        text_scores: np.ndarray,
        *,
        shared: SharedBatch | None = None,
    ) -> np.ndarray:
        """``shared``: the batch ``papers`` are; its links are found once for every model."""
        if len(papers) == 0:
            return np.zeros((0,), dtype=np.float32)
        links = shared.memo("second stage links", lambda: links_of(papers)) if shared else None
        x = signals_of(papers, text_scores, self.authors, self.categories, own=None, links=links)
        return np.asarray(
            self.model.predict_proba(self.scaler.transform(x))[:, 1], dtype=np.float32
        )

    def weights(self) -> dict[str, float]:
        """Each signal's coefficient on the standardised scale, for the model card."""
        return {
            name: round(float(w), 4)
            for name, w in zip(self.signals, self.model.coef_[0], strict=True)
        }


def signals_of(
    papers: Sequence[PaperInput],
    text_scores: np.ndarray,
    authors: Record,
    categories: Record,
    *,
    own: np.ndarray | None,
    links: tuple[list[float], list[float]] | None = None,
) -> np.ndarray:
    score = np.clip(np.asarray(text_scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    by_authors = _counts([authors_of(p) for p in papers], authors, own)
    by_category = _counts([primary_of(p) for p in papers], categories, own)
    code, project = links if links is not None else links_of(papers)
    return np.column_stack(
        [
            np.log(score / (1 - score)),
            np.log1p(by_authors[:, 0]),
            np.log1p(by_authors[:, 1]),
            (by_authors[:, 0] > 0).astype(float),
            np.log((by_category[:, 0] + 1) / (by_category[:, 0] + by_category[:, 1] + 2)),
            code,
            project,
            np.log1p([len(p.authors) for p in papers]),
            np.log1p([len(p.abstract or "") for p in papers]),
        ]
    )


def links_of(papers: Sequence[PaperInput]) -> tuple[list[float], list[float]]:
    """Whether each paper's abstract or comment links to code, and to a project page (1 or 0)."""
    texts = [f"{p.abstract} {p.comment or ''}" for p in papers]
    return (
        [float(bool(CODE.search(t))) for t in texts],
        [float(bool(PROJECT.search(t))) for t in texts],
    )
