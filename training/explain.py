"""Why a model likes a paper: the few inputs that raised its score the most.

For a tfidf model that is exact: the logistic regression's score is a sum over the paper's
features (TF-IDF weight times coefficient), so the largest positive terms are its reasons: words
and phrases of the text, author names, words of the arXiv comment. Other methods have no such
sum; the service explains them by the reader's most similar interesting papers instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.artifact import TEXT_COLUMN, PaperInput, compose_text, metadata_frame
from training.predictor import Predictor, TfidfPredictor

KINDS = {TEXT_COLUMN: "term", "authors": "author", "comment": "comment", "categories": "category"}


@dataclass(frozen=True)
class Reason:
    kind: str  # term | author | comment | category | similar
    text: str
    weight: float  # its share of the score's log-odds

    def describe(self) -> str:
        if self.kind == "term":
            return f"“{self.text}”"
        if self.kind == "comment":
            return f"comment: {self.text}"
        if self.kind == "similar":
            return f"like “{self.text}”"
        return f"{self.kind} {self.text}"


def explains(predictor: Predictor) -> bool:
    return isinstance(predictor, TfidfPredictor)


def tfidf_reasons(
    predictor: Predictor, papers: Sequence[PaperInput], *, top: int = 4
) -> list[list[Reason]]:
    """The ``top`` features adding most to each paper's score (positive contributions only)."""
    if not isinstance(predictor, TfidfPredictor):
        raise TypeError(
            f"only tfidf models are explained by their terms, not {predictor.meta.method}"
        )
    if not papers:
        return []
    pipeline: Any = predictor.pipeline
    features, logreg = pipeline[:-1], pipeline[-1]
    meta = predictor.meta
    prefixed = predictor.reads_frame
    if prefixed:
        inputs: Any = metadata_frame(
            papers, text_fields=meta.text_fields, meta_fields=meta.meta_fields
        )
    else:
        inputs = [compose_text(p.title, p.abstract, meta.text_fields) for p in papers]
    matrix = features.transform(inputs).tocsr()
    names = predictor.feature_names
    coef = np.asarray(logreg.coef_).ravel()
    reasons = []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        columns, values = matrix.indices[start:end], matrix.data[start:end]
        contributions = values * coef[columns]
        order = np.argsort(-contributions)
        found = [
            _reason(str(names[columns[i]]), float(contributions[i]), prefixed)
            for i in order
            if contributions[i] > 0
        ]
        # Character n-grams ("ing d") explain nothing to a reader; words and names do.
        reasons.append([r for r in found if r.kind != "chars"][:top])
    return reasons


def _reason(name: str, weight: float, prefixed: bool) -> Reason:
    block, _, feature = name.partition("__") if prefixed else (TEXT_COLUMN, "", name)
    return Reason(kind=KINDS.get(block, block), text=feature.strip(), weight=round(weight, 4))
