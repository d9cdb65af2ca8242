"""Why this paper: a few reasons beside each recommendation, from the served model.

A tfidf model names the phrases, authors and comment facts (code on GitHub, the venue) that raised
the paper's score most (``training.inference.explain``), or, where none is clear, the reader's
closest ✓ paper. The encoder methods have no such sum: they are explained by the reader's
interesting papers most like this one (TF-IDF cosine over titles and abstracts).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.serving.holder import LoadedModel
from app.serving.scoring import paper_input
from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper
from training.inference.artifact import compose_text
from training.inference.explain import Reason, explains, tfidf_reasons

TOP = 4
SIMILAR_POOL = 2000  # the newest interesting papers compared with


def reasons_for(
    session: Session, model: LoadedModel, papers: Sequence[Paper], *, top: int = TOP
) -> dict[str, list[str]]:
    """Reasons for each paper, by id, as short phrases."""
    if not papers:
        return {}
    if explains(model.predictor):
        found = _cached_tfidf_reasons(model, papers, top)
        # Where nothing clear raised the score, the reader's closest ✓ paper says why.
        bare = [i for i, reasons in enumerate(found) if not reasons]
        if bare:
            similar = similar_interesting(
                session, [papers[i] for i in bare], top=1, topic_id=model.topic_id
            )
            for i, reasons in zip(bare, similar, strict=True):
                found[i] = reasons
    else:
        found = similar_interesting(session, papers, top=min(top, 3), topic_id=model.topic_id)
    return {p.id: [r.describe() for r in rs] for p, rs in zip(papers, found, strict=True)}


# A served model's reasons for a paper version never change: kept per model (a new model starts
# afresh), at most this many papers, so a day's page or digest is explained once.
REASONS_CACHED = 20_000
_reasons_cache: weakref.WeakKeyDictionary[Any, dict[tuple[str, int, int], list[Reason]]] = (
    weakref.WeakKeyDictionary()
)
_cache_lock = threading.Lock()


def _cached_tfidf_reasons(
    model: LoadedModel, papers: Sequence[Paper], top: int
) -> list[list[Reason]]:
    with _cache_lock:
        cache = _reasons_cache.setdefault(model.predictor, {})
        found = [cache.get((p.id, p.version, top)) for p in papers]
    missing = [i for i, reasons in enumerate(found) if reasons is None]
    if missing:
        fresh = tfidf_reasons(model.predictor, [paper_input(papers[i]) for i in missing], top=top)
        with _cache_lock:
            if len(cache) + len(missing) > REASONS_CACHED:
                cache.clear()
            for i, reasons in zip(missing, fresh, strict=True):
                found[i] = reasons
                cache[(papers[i].id, papers[i].version, top)] = reasons
    return [list(reasons or []) for reasons in found]


def similar_interesting(
    session: Session, papers: Sequence[Paper], *, top: int, topic_id: int = DEFAULT_TOPIC_ID
) -> list[list[Reason]]:
    liked = session.execute(
        select(Paper.id, Paper.title, Paper.abstract)
        .join(Label, Label.paper_id == Paper.id)
        .where(Label.topic_id == topic_id, Label.interest == 1)
        .order_by(Paper.submitted_on.desc())
        .limit(SIMILAR_POOL)
    ).all()
    if not liked:
        return [[] for _ in papers]
    texts = [compose_text(title, abstract) for _, title, abstract in liked]
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    liked_matrix = vectorizer.fit_transform(texts)
    similarity = linear_kernel(
        vectorizer.transform([compose_text(p.title, p.abstract) for p in papers]), liked_matrix
    )
    reasons = []
    for row, paper in zip(similarity, papers, strict=True):
        order = row.argsort()[::-1]
        picked = [
            Reason(kind="similar", text=liked[i][1], weight=round(float(row[i]), 4))
            for i in order
            if liked[i][0] != paper.id and row[i] > 0
        ][:top]
        reasons.append(picked)
    return reasons
