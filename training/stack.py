"""A second stage over the TF-IDF model's score and a few signals a bag of words misses.

The text model (TF-IDF of the text, authors and comment) scores each labelled paper out of fold:
five date-ordered folds, each scored by a model fit on the other four, so no paper's score has
seen its own label. A logistic regression then weighs that score beside:

- the authors' record: how many of the reader's ✓ and ✕ papers (other than this one) share an
  author with it;
- the primary category's record (the share of ✓ among its labelled papers, smoothed);
- a link to code (GitHub, GitLab, Hugging Face) or to a project page in the abstract or comment;
- the number of authors and the abstract's length.

Chosen by the nightly replay (bench/recipes.py, then bench/prequential.py): on the shared
benchmark's last 16 and 32 nights it beat the text model alone in AP, mean daily AP and
precision of the day's top 10 (bench/README.md).

``SecondStage`` is what a model directory keeps (``second_stage.pkl``): the records as they were
at fitting time, the scaler and the regression. Serving applies it to the text model's score
(``training.predictor.score_papers_raw``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from training.artifact import PaperInput

FOLDS = 5
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


def _authors(paper: PaperInput) -> set[str]:
    return {" ".join(name.split()).casefold() for name in paper.authors if name.strip()}


def _primary(paper: PaperInput) -> set[str]:
    return {paper.categories[0]} if paper.categories else set()


Record = dict[str, tuple[int, int]]


def _record(keys: Sequence[set[str]], labels: np.ndarray) -> Record:
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

    @classmethod
    def fit(
        cls,
        papers: Sequence[PaperInput],
        labels: np.ndarray,
        out_of_fold: np.ndarray,
        *,
        seed: int = 0,
    ) -> SecondStage:
        labels = np.asarray(labels, dtype=int)
        authors = _record([_authors(p) for p in papers], labels)
        categories = _record([_primary(p) for p in papers], labels)
        x = _signals(papers, out_of_fold, authors, categories, own=labels)
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(
            C=1.0, class_weight="balanced", max_iter=5000, random_state=seed
        ).fit(scaler.transform(x), labels)
        return cls(authors=authors, categories=categories, scaler=scaler, model=model)

    def predict(self, papers: Sequence[PaperInput], text_scores: np.ndarray) -> np.ndarray:
        if len(papers) == 0:
            return np.zeros((0,), dtype=np.float32)
        x = _signals(papers, text_scores, self.authors, self.categories, own=None)
        return np.asarray(
            self.model.predict_proba(self.scaler.transform(x))[:, 1], dtype=np.float32
        )

    def weights(self) -> dict[str, float]:
        """Each signal's coefficient on the standardised scale, for the model card."""
        return {
            name: round(float(w), 4)
            for name, w in zip(self.signals, self.model.coef_[0], strict=True)
        }


def _signals(
    papers: Sequence[PaperInput],
    text_scores: np.ndarray,
    authors: Record,
    categories: Record,
    *,
    own: np.ndarray | None,
) -> np.ndarray:
    score = np.clip(np.asarray(text_scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    by_authors = _counts([_authors(p) for p in papers], authors, own)
    by_category = _counts([_primary(p) for p in papers], categories, own)
    texts = [f"{p.abstract} {p.comment or ''}" for p in papers]
    return np.column_stack(
        [
            np.log(score / (1 - score)),
            np.log1p(by_authors[:, 0]),
            np.log1p(by_authors[:, 1]),
            (by_authors[:, 0] > 0).astype(float),
            np.log((by_category[:, 0] + 1) / (by_category[:, 0] + by_category[:, 1] + 2)),
            [float(bool(CODE.search(t))) for t in texts],
            [float(bool(PROJECT.search(t))) for t in texts],
            np.log1p([len(p.authors) for p in papers]),
            np.log1p([len(p.abstract or "") for p in papers]),
        ]
    )


def out_of_fold_scores(
    count: int, fit_and_score: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Scores of ``count`` date-ordered rows, each fold's from a model fit on the other folds:
    ``fit_and_score(train_index, score_index)`` fits on the first and scores the second."""
    scores = np.zeros(count)
    bounds = np.linspace(0, count, FOLDS + 1).astype(int)
    everything = np.arange(count)
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        held = everything[low:high]
        scores[low:high] = fit_and_score(np.setdiff1d(everything, held), held)
    return scores
