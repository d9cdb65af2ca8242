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

This module fits it; ``training.inference.second_stage.SecondStage`` is what a model directory
keeps (``second_stage.pkl``) and what serving applies to the text model's score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from training.inference.artifact import PaperInput
from training.inference.second_stage import (
    SecondStage,
    authors_of,
    primary_of,
    record_of,
    signals_of,
)

FOLDS = 5


def fit_stage(
    papers: Sequence[PaperInput],
    labels: np.ndarray,
    out_of_fold: np.ndarray,
    *,
    seed: int = 0,
) -> SecondStage:
    """The second stage over the labelled ``papers``, their labels and their text model's
    out-of-fold scores; each paper's own label is left out of its records."""
    labels = np.asarray(labels, dtype=int)
    authors = record_of([authors_of(p) for p in papers], labels)
    categories = record_of([primary_of(p) for p in papers], labels)
    x = signals_of(papers, out_of_fold, authors, categories, own=labels)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(
        C=1.0, class_weight="balanced", max_iter=5000, random_state=seed
    ).fit(scaler.transform(x), labels)
    return SecondStage(authors=authors, categories=categories, scaler=scaler, model=model)


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
