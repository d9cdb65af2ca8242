"""Onboarding: the stored papers whose answers teach the model most, about ten at a time.

With a model, most of a batch is *uncertain*: the unlabelled papers of the newest days that the
active model scores nearest its threshold (on the log-odds scale), kept apart from each other by
maximal marginal relevance over their TF-IDF vectors (title and abstract), so that one topic's
near-duplicates do not fill the batch. The rest *explore*: the papers that best cover the
candidates that nothing the reader labelled (nor the uncertain picks) resembles, so the model
also learns about what lies beyond the reader's favourite topic. Before any model exists, a
batch is the ten papers that together best cover the *newest* stored days.

"Cover" is greedy facility location over TF-IDF cosine similarity: each pick in turn is the
paper that most raises, summed over every candidate, its likeness to the nearest pick. Measured
on real days (tests/jobs/test_onboarding.py, bench/onboarding.py), such picks are each typical of a
topic: the mean likeness of a candidate to its nearest pick is higher than for ten newest or
random papers, or k-means' typical papers; picking papers far from each other instead (farthest
first) picks outliers that resemble nothing else.

A paper already labelled, or skipped here, is never asked.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs.lock import ONBOARDING_RETRAIN, PROBE_GRACE_SECONDS, JobBusy
from app.jobs.retrain import label_progress, retrain
from app.jobs.scheduler import DailyJob
from app.serving.holder import LoadedModel
from app.serving.scoring import paper_input, score_inputs
from app.store.labels import set_label
from app.store.rules import current_score
from app.store.schema import DEFAULT_TOPIC_ID, Label, OnboardingSkip, Paper, Score
from training.inference.layout import DataError
from training.regime import MEASURED

logger = logging.getLogger(__name__)

# The label source of an answer given here (the day page's are "web", the digest's "email").
ONBOARDING_SOURCE = "onboarding"
BATCH_SIZE = 10
# Of a batch with a model, this share explores (at least one paper).
EXPLORE_SHARE = 0.3
# The newest unlabelled papers considered; a tfidf model scores all of them in about a second.
MAX_CANDIDATES = 3000
# Unscored candidates an encoder model scores directly, for a page that answers in seconds (the
# background re-scoring stores the scores of the others).
MAX_ENCODER_SCORING = 256
# Without a model: the newest papers whose topics make the first batch.
NEWEST_CANDIDATES = 600
# Uncertain picks come from this many times the picks nearest the threshold.
UNCERTAIN_POOL = 5
# Maximal marginal relevance: weight of nearness to the threshold against likeness to the
# papers already picked.
MMR_LAMBDA = 0.6
# The labelled papers whose text tells which topics the reader has seen (newest first).
MAX_LABELLED = 2000

Why = Literal["uncertain", "explore", "newest"]


@dataclass(frozen=True)
class Pick:
    paper_id: str
    why: Why
    probability: float | None  # the active model's; None without a model


@dataclass(frozen=True)
class Candidate:
    """A paper onboarding may ask about: what a model reads of it, and its probability."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    comment: str | None
    probability: float | None


def _not_asked(topic_id: int = DEFAULT_TOPIC_ID) -> list[Any]:
    """Unlabelled and not skipped, in the topic."""
    return [
        ~select(Label.paper_id)
        .where(Label.topic_id == topic_id, Label.paper_id == Paper.id)
        .exists(),
        ~select(OnboardingSkip.paper_id)
        .where(OnboardingSkip.topic_id == topic_id, OnboardingSkip.paper_id == Paper.id)
        .exists(),
    ]


def candidates(
    session: Session,
    *,
    limit: int,
    model_version_id: int | None = None,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> list[Candidate]:
    """The newest papers never labelled nor skipped in the topic, newest day first, with the
    stored score of ``model_version_id`` for their current version where there is one."""
    probability: Any = Score.probability if model_version_id is not None else None
    columns = [
        Paper.id,
        Paper.title,
        Paper.abstract,
        Paper.authors,
        Paper.categories,
        Paper.comment,
    ]
    query = select(*columns, probability) if probability is not None else select(*columns)
    if model_version_id is not None:
        query = query.outerjoin(Score, current_score(model_version_id))
    rows = session.execute(
        query.where(*_not_asked(topic_id))
        .order_by(Paper.submitted_on.desc(), Paper.id)
        .limit(limit)
    ).all()
    return [
        Candidate(
            id=row.id,
            title=row.title,
            abstract=row.abstract,
            authors=list(row.authors or []),
            categories=list(row.categories or []),
            comment=row.comment,
            probability=row.probability if model_version_id is not None else None,
        )
        for row in rows
    ]


def _scored(loaded: LoadedModel, found: list[Candidate]) -> list[Candidate]:
    """Every candidate with a probability: the stored one, or scored now by the active model
    (a tfidf model scores them all; an encoder at most MAX_ENCODER_SCORING, the newest)."""
    missing = [c for c in found if c.probability is None]
    if loaded.method != "tfidf":
        missing = missing[:MAX_ENCODER_SCORING]
    fresh: dict[str, float] = {}
    if missing:
        scores = score_inputs(loaded, [paper_input(c) for c in missing])
        fresh = {c.id: float(p) for c, p in zip(missing, scores, strict=True)}
    out = []
    for candidate in found:
        probability = candidate.probability
        if probability is None:
            probability = fresh.get(candidate.id)
        if probability is not None:
            out.append(replace(candidate, probability=probability))
    return out


def _text(title: str, abstract: str) -> str:
    return f"{title}\n{abstract}"


def text_vectors(texts: Sequence[str], *, also: Sequence[str] = ()) -> tuple[Any, Any]:
    """L2-normalised TF-IDF vectors of ``texts`` (and of ``also``, in the same space), English
    stop words out, so that two papers' cosine similarity is their vectors' dot product."""
    vectorizer = TfidfVectorizer(
        stop_words="english", sublinear_tf=True, min_df=1, max_df=0.5, dtype=np.float32
    )
    try:
        matrix = vectorizer.fit_transform(list(texts))
    except ValueError:  # every word a stop word, or no text at all
        vectorizer = TfidfVectorizer(dtype=np.float32)
        matrix = vectorizer.fit_transform([t or "-" for t in texts])
    return matrix, vectorizer.transform(list(also)) if also else None


def threshold_distance(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """How far each probability is from the threshold, in log-odds: equally unsure papers
    above and below it are equally far, and 0.50 against 0.52 is nearer than 0.95 against
    0.97, as a calibrated model means it."""
    eps = 1e-6
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1 - eps)
    t = min(max(float(threshold), eps), 1 - eps)
    return np.abs(np.log(p / (1 - p)) - math.log(t / (1 - t)))


def mmr(
    relevance: np.ndarray, similarity: np.ndarray, k: int, *, lam: float = MMR_LAMBDA
) -> list[int]:
    """Maximal marginal relevance: ``k`` indices, each the most relevant (0..1) after taking
    off its greatest similarity to those already chosen; the first is the most relevant."""
    chosen: list[int] = []
    if len(relevance) == 0:
        return chosen
    nearest = np.zeros(len(relevance))  # the greatest similarity to a chosen one
    available = np.ones(len(relevance), dtype=bool)
    for _ in range(min(k, len(relevance))):
        gain = np.where(available, lam * relevance - (1 - lam) * nearest, -np.inf)
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        nearest = np.maximum(nearest, similarity[best])
    return chosen


def cover(similarity: np.ndarray, k: int, *, covered: np.ndarray | None = None) -> list[int]:
    """Greedy facility location: ``k`` indices, each the one that most raises the sum over all
    items of their similarity to the nearest chosen one (``similarity``: items x items, 0..1),
    counting only what exceeds ``covered`` (each item's likeness to what is already known)."""
    n = similarity.shape[0]
    dtype = similarity.dtype
    best = np.zeros(n, dtype) if covered is None else np.array(covered, dtype=dtype, copy=True)
    chosen: list[int] = []
    for _ in range(min(k, n)):
        gain = np.maximum(similarity - best[None, :], 0.0).sum(axis=1)
        gain[chosen] = -1
        pick = int(np.argmax(gain))
        chosen.append(pick)
        best = np.maximum(best, similarity[pick])
    return chosen


def _labelled_texts(session: Session, topic_id: int = DEFAULT_TOPIC_ID) -> list[str]:
    rows = session.execute(
        select(Paper.title, Paper.abstract)
        .join(Label, Label.paper_id == Paper.id)
        .where(Label.topic_id == topic_id)
        .order_by(Label.updated_at.desc())
        .limit(MAX_LABELLED)
    ).all()
    return [_text(title, abstract) for title, abstract in rows]


def next_batch(
    session: Session,
    loaded: LoadedModel | None,
    *,
    size: int = BATCH_SIZE,
    explore_share: float = EXPLORE_SHARE,
    mmr_lambda: float = MMR_LAMBDA,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> list[Pick]:
    """The next papers to ask about: uncertain and exploring ones with a model, the newest
    days' topics without one; never a labelled or skipped paper. (``explore_share`` 0 and
    ``mmr_lambda`` 1 ask only the papers nearest the threshold: bench/onboarding.py compares.)
    In ``topic_id``, or with a model in its topic."""
    if size < 1:
        return []
    if loaded is None:
        return _newest_batch(session, size, topic_id=topic_id)
    topic_id = loaded.topic_id
    found = _scored(
        loaded,
        candidates(
            session,
            limit=MAX_CANDIDATES,
            model_version_id=loaded.version_id,
            topic_id=topic_id,
        ),
    )
    if not found:
        return []
    labelled = _labelled_texts(session, topic_id)
    vectors, seen = text_vectors([_text(c.title, c.abstract) for c in found], also=labelled)
    probabilities = np.array([c.probability for c in found], dtype=np.float64)
    explore_count = 0
    if explore_share > 0 and size > 1:
        explore_count = min(max(1, round(size * explore_share)), size - 1)
    uncertain = _uncertain(
        vectors, probabilities, loaded.threshold, size - explore_count, lam=mmr_lambda
    )
    explore = _explore(vectors, seen, uncertain, size - len(uncertain))
    picks = [Pick(found[i].id, "uncertain", float(probabilities[i])) for i in uncertain]
    picks += [Pick(found[i].id, "explore", float(probabilities[i])) for i in explore]
    return picks


def _uncertain(
    vectors: Any, probabilities: np.ndarray, threshold: float, k: int, *, lam: float
) -> list[int]:
    distance = threshold_distance(probabilities, threshold)
    pool = np.argsort(distance, kind="stable")[: max(k * UNCERTAIN_POOL, k)]
    # Relevance by rank in the pool (1 the nearest, towards 0 the farthest): log-odds distances
    # of an early model bunch up, and a rank keeps MMR's trade-off the same for any model.
    relevance = 1.0 - np.arange(len(pool)) / max(len(pool), 1)
    similarity = (vectors[pool] @ vectors[pool].T).toarray()
    return [int(pool[i]) for i in mmr(relevance, similarity, k, lam=lam)]


def _explore(vectors: Any, seen: Any, chosen: list[int], k: int) -> list[int]:
    """The papers that best cover what neither the labelled papers nor ``chosen`` resemble."""
    if k <= 0:
        return []
    similarity = (vectors @ vectors.T).toarray()
    known = np.zeros(vectors.shape[0], similarity.dtype)
    if chosen:
        known = similarity[:, chosen].max(axis=1)
    if seen is not None and seen.shape[0]:
        known = np.maximum(known, (vectors @ seen.T).max(axis=1).toarray().ravel())
    similarity[:, chosen] = 0.0  # a chosen paper is never picked again
    similarity[chosen, :] = 0.0
    return [i for i in cover(similarity, k + len(chosen), covered=known) if i not in chosen][:k]


def _newest_batch(session: Session, size: int, *, topic_id: int) -> list[Pick]:
    found = candidates(session, limit=NEWEST_CANDIDATES, topic_id=topic_id)
    if not found:
        return []
    vectors, _ = text_vectors([_text(c.title, c.abstract) for c in found])
    picks = cover((vectors @ vectors.T).toarray(), size)
    return [Pick(found[i].id, "newest", None) for i in picks]


@dataclass(frozen=True)
class Progress:
    """How far the labels are from a measured model, as the retrain judges it
    (``app.jobs.retrain.label_progress``): one whose threshold and test figures are measured on the
    labels' date split."""

    labels: int
    interesting: int
    more_interesting: int  # ✓ a measured model still needs
    more_not_interesting: int  # ✕ it still needs
    measured: bool

    @property
    def needed(self) -> int:
        """About how many labels a measured model needs in all (at least ``labels``)."""
        return self.labels + self.more_interesting + self.more_not_interesting


def measured_progress(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> Progress:
    ready = label_progress(session, topic_id=topic_id)
    return Progress(
        labels=ready.positives + ready.negatives,
        interesting=ready.positives,
        more_interesting=ready.positives_needed,
        more_not_interesting=ready.negatives_needed,
        measured=ready.regime == MEASURED,
    )


@dataclass(frozen=True)
class StoredAnswers:
    labelled: int  # labels set or changed
    skipped: int


def store_answers(
    session: Session,
    answers: Sequence[tuple[str, int | None]],
    *,
    now: dt.datetime,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> StoredAnswers:
    """Store each answer: 1 or 0 as the paper's label (source ``onboarding``), None as a skip,
    which leaves a label given elsewhere as it is. The papers must be stored (the caller
    checks)."""
    labelled = skipped = 0
    for paper_id, interest in answers:
        if interest is None:
            if session.get(OnboardingSkip, (topic_id, paper_id)) is None:
                session.add(OnboardingSkip(topic_id=topic_id, paper_id=paper_id, skipped_at=now))
            skipped += 1
            continue
        before = session.get(Label, (topic_id, paper_id))
        previous = before.interest if before is not None else None
        set_label(
            session,
            paper_id=paper_id,
            interest=interest,
            source=ONBOARDING_SOURCE,
            topic_id=topic_id,
        )
        labelled += previous != interest
    session.flush()
    return StoredAnswers(labelled=labelled, skipped=skipped)


def unknown_papers(session: Session, paper_ids: Sequence[str]) -> list[str]:
    """The ids among ``paper_ids`` that name no stored paper."""
    stored = set(session.scalars(select(Paper.id).where(Paper.id.in_(list(paper_ids)))))
    return [paper_id for paper_id in paper_ids if paper_id not in stored]


def unlabelled_count(session: Session, *, topic_id: int = DEFAULT_TOPIC_ID) -> int:
    """Stored papers never labelled nor skipped in the topic: what onboarding can still ask."""
    return session.scalar(select(func.count(Paper.id)).where(*_not_asked(topic_id))) or 0


def picked_papers(session: Session, picks: Sequence[Pick]) -> list[tuple[Paper, Pick]]:
    """Each pick with its stored paper, in the picks' order."""
    ids = [pick.paper_id for pick in picks]
    papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(ids)))}
    return [(papers[pick.paper_id], pick) for pick in picks if pick.paper_id in papers]


RetrainStatus = Literal["activated", "kept", "not_trained", "nothing_new", "failed"]


@dataclass(frozen=True)
class RetrainReport:
    status: RetrainStatus
    message: str  # a sentence for the reader: no command, no option, no traceback


# One onboarding retrain at a time in this process: answers sent meanwhile wait, then retrain
# on every label (theirs included).
_RETRAINING = threading.Lock()
RETRAIN_WAIT_SECONDS = 300.0


def retrain_on_answers(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    changed: int,
    job: DailyJob,
    topic_id: int = DEFAULT_TOPIC_ID,
) -> RetrainReport:
    """Retrain on every label after ``changed`` labels were given here (none: nothing to
    learn), through the service's gated retrain under the job's one lock (``job``: never beside
    an ingestion or another retrain), and say what came of it in plain words."""
    if changed == 0:
        return RetrainReport(
            "nothing_new", "Nothing new to learn from (no label changed): the model stays."
        )
    if not _RETRAINING.acquire(timeout=RETRAIN_WAIT_SECONDS):
        return RetrainReport(
            "failed",
            "Your answers are saved; another retrain is still running, so this one "
            "waits for the next batch.",
        )
    try:
        with job.held(ONBOARDING_RETRAIN, wait=PROBE_GRACE_SECONDS):
            outcome = retrain(sessions, settings, trigger="onboarding", topic_id=topic_id)
    except JobBusy as busy:
        logger.info("onboarding retrain not started: %s", busy)
        return RetrainReport(
            "failed",
            f"Your answers are saved; {busy.plain()}, so the model learns from them with a "
            "later batch.",
        )
    except DataError as err:
        logger.info("onboarding retrain refused: %s", err)
        return RetrainReport("not_trained", _why_no_model(sessions, topic_id))
    except Exception:  # the answers are stored; the page says so and the log has the rest
        logger.exception("the onboarding retrain failed")
        return RetrainReport(
            "failed",
            "Your answers are saved, but training a model on them failed; the "
            "service's log says why.",
        )
    finally:
        _RETRAINING.release()
    if outcome.activated:
        return RetrainReport(
            "activated",
            f"Trained a new model on your {outcome.labels} labels in {outcome.seconds:.1f} s; "
            "it chose the papers below.",
        )
    return RetrainReport(
        "kept",
        f"A model trained on your {outcome.labels} labels did no better than the active one "
        "on your newest answers, so the active one stays and chose the papers below.",
    )


def _why_no_model(sessions: sessionmaker[Session], topic_id: int) -> str:
    with sessions() as session:
        progress = measured_progress(session, topic_id=topic_id)
    if progress.interesting == 0:
        return (
            "No model yet: mark at least one paper ✓ interesting, so that it learns what you like."
        )
    if progress.interesting == progress.labels:
        return "No model yet: mark at least one paper ✕ not for me as well."
    return "No model yet: your labels are still too few to train one; answer another batch."
