"""One batch of papers scored by several tfidf models at once (a reader's topics).

The costly part of a TF-IDF transform, cutting each text into terms (words and word pairs,
character n-grams), runs once per distinct analyzer over the batch; each model then maps the
batch's distinct terms to its own vocabulary (a hash table in C) and builds its features with
array operations. What depends on the papers alone (their texts, a second stage's links to code
and project pages) is also worked out once. Each model's probabilities are its own
(``TfidfVectorizer.transform`` and the pipeline's ``predict_proba``) to float rounding; a
pipeline of another shape is scored as it always was.

    scores = score_together(predictors, papers)   # training.inference.predictor
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from training.inference.artifact import PaperInput

T = TypeVar("T")

# What decides how a vectorizer cuts a text into terms (sklearn's build_analyzer): two
# vectorizers that agree on all of these give the same terms for the same text.
_ANALYZER_PARAMS = (
    "input",
    "encoding",
    "decode_error",
    "strip_accents",
    "lowercase",
    "preprocessor",
    "tokenizer",
    "analyzer",
    "token_pattern",
    "ngram_range",
    "stop_words",
)


def analyzer_key(vectorizer: TfidfVectorizer) -> Hashable:
    values = []
    for name in _ANALYZER_PARAMS:
        value = getattr(vectorizer, name)
        if isinstance(value, list | set | frozenset):
            value = tuple(sorted(value))
        values.append(value)
    return (type(vectorizer), *values)


@dataclass(frozen=True)
class _Terms:
    """A batch's texts cut into terms: each distinct term once (``index``), and each text's
    terms as positions in it (CSR layout: ``ids[indptr[i]:indptr[i + 1]]``)."""

    index: dict[str, int]
    ids: np.ndarray
    indptr: np.ndarray

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer, docs: Sequence[str]) -> _Terms:
        analyze = vectorizer.build_analyzer()
        index: dict[str, int] = {}
        ids: list[int] = []
        indptr = [0]
        for doc in docs:
            for term in analyze(doc):
                position = index.get(term)
                if position is None:
                    position = index[term] = len(index)
                ids.append(position)
            indptr.append(len(ids))
        return cls(index, np.asarray(ids, dtype=np.int64), np.asarray(indptr, dtype=np.int64))

    def counts(self, vectorizer: TfidfVectorizer) -> sparse.csr_matrix:
        """The term counts in a vocabulary's columns (CountVectorizer.transform's matrix)."""
        terms, columns = _vocabulary(vectorizer)
        where = terms.get_indexer(pd.Index(list(self.index), dtype=object))
        mapped = np.where(where >= 0, columns[where], -1)
        found = mapped[self.ids] if len(self.ids) else self.ids
        width, dtype = len(vectorizer.vocabulary_), vectorizer.dtype
        rows = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        kept = found >= 0
        counts = sparse.csr_matrix(
            (np.ones(int(kept.sum()), dtype=dtype), (rows[kept], found[kept])),
            shape=(len(self.indptr) - 1, width),
            dtype=dtype,
        )
        counts.sum_duplicates()
        counts.sort_indices()
        return counts


# A fitted vectorizer's vocabulary as a pandas index (its terms) and their columns: made once per
# loaded model, dropped with it.
_VOCABULARIES: weakref.WeakKeyDictionary[TfidfVectorizer, tuple[pd.Index, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def _vocabulary(vectorizer: TfidfVectorizer) -> tuple[pd.Index, np.ndarray]:
    found = _VOCABULARIES.get(vectorizer)
    if found is None:
        vocabulary = vectorizer.vocabulary_
        terms = pd.Index(list(vocabulary), dtype=object)
        columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        found = _VOCABULARIES[vectorizer] = (terms, columns)
    return found


class SharedBatch:
    """One batch of papers and what the models scoring it share: the terms of its texts, by
    analyzer and text, and whatever else depends on the papers alone (``memo``)."""

    def __init__(self, papers: Sequence[PaperInput | tuple[str | None, str]]) -> None:
        self.papers = [PaperInput.of(paper) for paper in papers]
        self._terms: dict[Hashable, _Terms] = {}
        self._memo: dict[Hashable, Any] = {}

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, once per key for this batch (its papers are fixed)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]  # type: ignore[no-any-return]

    def predict(self, pipeline: Any, inputs: Any) -> np.ndarray:
        """``pipeline.predict_proba(inputs)[:, 1]`` as float32, sharing the analysis."""
        features = self._features(pipeline, inputs)
        if features is None:  # a pipeline this does not know: scored as it always was
            return np.asarray(pipeline.predict_proba(inputs)[:, 1], dtype=np.float32)
        return np.asarray(pipeline[-1].predict_proba(features)[:, 1], dtype=np.float32)

    def _features(self, pipeline: Any, inputs: Any) -> sparse.csr_matrix | None:
        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            return None
        step = pipeline[0]
        if type(step) is TfidfVectorizer:
            return self.transform(step, list(inputs))
        if not isinstance(step, ColumnTransformer) or step.remainder != "drop":
            return None
        weights = step.transformer_weights or {}
        blocks = []
        for name, transformer, column in step.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            if type(transformer) is not TfidfVectorizer or not isinstance(column, str):
                return None
            block = self.transform(transformer, list(inputs[column]))
            weight = weights.get(name)
            blocks.append(block * weight if weight is not None else block)
        return sparse.hstack(blocks, format="csr") if blocks else None

    def transform(self, vectorizer: TfidfVectorizer, docs: list[str]) -> sparse.csr_matrix:
        """``vectorizer.transform(docs)``, the terms of ``docs`` cut once for every vectorizer
        that cuts them alike."""
        key = (analyzer_key(vectorizer), tuple(docs))
        terms = self._terms.get(key)
        if terms is None:
            terms = self._terms[key] = _Terms.of(vectorizer, docs)
        matrix = terms.counts(vectorizer)
        if vectorizer.binary:
            matrix.data.fill(1)
        # TfidfTransformer.transform, from the fitted vectorizer's public attributes.
        matrix = matrix.astype(np.float64 if matrix.dtype.kind != "f" else matrix.dtype)
        if vectorizer.sublinear_tf:
            np.log(matrix.data, matrix.data)
            matrix.data += 1.0
        if vectorizer.use_idf:
            matrix.data *= vectorizer.idf_[matrix.indices]
        if vectorizer.norm is not None:
            matrix = normalize(matrix, norm=vectorizer.norm, copy=False)
        return matrix
