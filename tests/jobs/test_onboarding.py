"""Onboarding's choice of papers (app.jobs.onboarding): uncertain ones near the active model's
threshold, kept diverse, a few exploring ones far from the labels, the newest days' topics before
any model; never a labelled or skipped paper; and the count toward a measured model."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from sqlalchemy import select

from app.core.db import session_scope
from app.jobs.ingest import ingest_day
from app.jobs.onboarding import (
    ONBOARDING_SOURCE,
    UNCERTAIN_POOL,
    Progress,
    candidates,
    measured_progress,
    mmr,
    next_batch,
    store_answers,
    text_vectors,
    threshold_distance,
)
from app.serving.scoring import paper_input, score_inputs
from app.store.schema import DEFAULT_TOPIC_ID, Label, OnboardingSkip, Paper
from tests.factories import activate_model_dir, paper_row
from training.regime import MEASURED_MIN_NEGATIVES, MEASURED_MIN_POSITIVES

DAYS = (dt.date(2025, 3, 19), dt.date(2025, 3, 20), dt.date(2025, 3, 21))
# cs.CV too: the fixture listings hold 240 papers of four categories, a real mix of topics.
CATEGORIES = ["cs.AI", "cs.CL", "cs.LG", "cs.CV"]


@pytest.fixture
def stored(sessions, settings) -> list[str]:
    """Three real days of papers, unlabelled; their ids."""
    for day in DAYS:
        assert ingest_day(sessions, day, settings, categories=CATEGORIES).status == "success"
    with sessions() as session:
        return list(session.scalars(select(Paper.id)))


@pytest.fixture
def model(sessions, holder, tfidf_meta_model_dir):
    """A real tfidf model (trained on the fixture labels) as the active one."""
    activate_model_dir(sessions, tfidf_meta_model_dir, name="tfidf-onboarding")
    loaded = holder.get()
    assert loaded is not None
    return loaded


def _texts(sessions, ids):
    with sessions() as session:
        papers = {p.id: p for p in session.scalars(select(Paper).where(Paper.id.in_(ids)))}
    return [f"{papers[i].title}\n{papers[i].abstract}" for i in ids]


def _coverage(vectors, rows) -> float:
    """How well ``rows`` cover the papers: each paper's likeness to its nearest one, averaged."""
    return float((vectors @ vectors[rows].T).max(axis=1).toarray().mean())


def test_without_a_model_a_batch_covers_the_newest_days_topics(sessions, stored):
    with sessions() as session:
        picks = next_batch(session, None)
        found = candidates(session, limit=1000)
    assert len(picks) == 10 and {p.why for p in picks} == {"newest"}
    assert len({p.paper_id for p in picks}) == 10
    assert all(p.probability is None for p in picks)
    # The papers resemble the picks more than they resemble the ten newest or ten random ones.
    ids = [c.id for c in found]
    vectors, _ = text_vectors(_texts(sessions, ids))
    chosen = _coverage(vectors, [ids.index(p.paper_id) for p in picks])
    assert chosen > _coverage(vectors, list(range(10)))
    rng = np.random.default_rng(0)
    random = [_coverage(vectors, list(rng.choice(len(ids), 10, False))) for _ in range(20)]
    assert chosen > max(random)
    # Not only the days' main category (the fixture days' papers are cs.CV and cs.CL, 2 to 1).
    with sessions() as session:
        primaries = {session.get_one(Paper, p.paper_id).primary_category for p in picks}
    assert primaries == {"cs.CV", "cs.CL"}


def test_uncertain_picks_are_the_papers_nearest_the_threshold(sessions, stored, model):
    with sessions() as session:
        picks = next_batch(session, model)
        found = candidates(session, limit=1000)
    uncertain = [p for p in picks if p.why == "uncertain"]
    explore = [p for p in picks if p.why == "explore"]
    assert (len(uncertain), len(explore)) == (7, 3)
    probabilities = score_inputs(model, [paper_input(c) for c in found])
    distance = dict(
        zip([c.id for c in found], threshold_distance(probabilities, model.threshold), strict=True)
    )
    for pick in picks:  # the probability shown is the active model's own
        assert pick.probability == pytest.approx(
            float(probabilities[[c.id for c in found].index(pick.paper_id)]), abs=1e-6
        )
    pool_edge = sorted(distance.values())[7 * UNCERTAIN_POOL - 1]
    assert all(distance[p.paper_id] <= pool_edge for p in uncertain)
    median = float(np.median(list(distance.values())))
    assert float(np.median([distance[p.paper_id] for p in uncertain])) < median / 2


def test_near_duplicates_of_the_most_uncertain_paper_do_not_fill_the_batch(sessions, stored, model):
    with sessions() as session:
        first = next_batch(session, model)[0]
        source = session.get_one(Paper, first.paper_id)
        copies = [f"2503.999{n:02d}" for n in range(6)]
        for paper_id in copies:
            session.add(
                paper_row(
                    paper_id,
                    title=source.title,
                    abstract=source.abstract,
                    authors=source.authors,
                    categories=source.categories,
                    comment=source.comment,
                    submitted_on=DAYS[-1],
                )
            )
        session.commit()
        picks = next_batch(session, model)
    twins = {first.paper_id, *copies}
    assert sum(p.paper_id in twins for p in picks) == 1


def test_mmr_takes_the_most_relevant_then_trades_nearness_for_difference():
    relevance = np.array([1.0, 0.99, 0.98, 0.7, 0.6])
    similarity = np.eye(5)
    similarity[0, 1] = similarity[1, 0] = similarity[0, 2] = similarity[2, 0] = 0.95
    similarity[1, 2] = similarity[2, 1] = 0.95
    assert mmr(relevance, similarity, 3) == [0, 3, 4]
    assert mmr(relevance, np.eye(5), 3) == [0, 1, 2]  # nothing alike: by relevance
    assert mmr(relevance, similarity, 3, lam=1.0) == [0, 1, 2]
    assert mmr(np.array([]), np.zeros((0, 0)), 3) == []


def test_threshold_distance_is_symmetric_in_log_odds():
    distance = threshold_distance(np.array([0.2, 0.5, 0.8, 0.0, 1.0]), 0.5)
    assert distance[0] == pytest.approx(distance[2]) and distance[1] == 0
    assert np.isfinite(distance).all()
    # 0.05 above a threshold of 0.1 is farther than 0.05 above one of 0.5.
    assert (
        threshold_distance(np.array([0.15]), 0.1)[0] > threshold_distance(np.array([0.55]), 0.5)[0]
    )


def test_exploring_picks_come_from_topics_far_from_the_labels(sessions, stored, model):
    # The reader has labelled every computer-vision paper of the days: vision is known ground.
    with session_scope(sessions) as session:
        vision = [
            p.id
            for p in session.scalars(select(Paper))
            if p.primary_category == "cs.CV" and p.id.endswith(("1", "3", "5", "7"))
        ]
        store_answers(session, [(pid, 0) for pid in vision], now=dt.datetime.now(dt.timezone.utc))
    with sessions() as session:
        picks = next_batch(session, model)
        found = [c.id for c in candidates(session, limit=1000)]
    explore = [p.paper_id for p in picks if p.why == "explore"]
    assert len(explore) == 3
    vectors, labelled = text_vectors(_texts(sessions, found), also=_texts(sessions, vision))
    likeness = (vectors @ labelled.T).max(axis=1).toarray().ravel()
    median = float(np.median(likeness))
    assert all(likeness[found.index(pid)] < median for pid in explore)
    uncertain = [found.index(p.paper_id) for p in picks if p.why == "uncertain"]
    assert np.mean([likeness[found.index(pid)] for pid in explore]) < np.mean(likeness[uncertain])


def test_labelled_and_skipped_papers_are_never_asked(sessions, stored, model):
    now = dt.datetime.now(dt.timezone.utc)
    with sessions() as session:
        first = [p.paper_id for p in next_batch(session, None)]
    with session_scope(sessions) as session:
        stored_answers = store_answers(
            session, list(zip(first, itertools.cycle([1, 0, None]), strict=False)), now=now
        )
        assert (stored_answers.labelled, stored_answers.skipped) == (7, 3)
    with sessions() as session:
        labels = {label.paper_id: label for label in session.scalars(select(Label))}
        skips = set(session.scalars(select(OnboardingSkip.paper_id)))
        assert set(labels) | skips == set(first) and not set(labels) & skips
        assert {label.source for label in labels.values()} == {ONBOARDING_SOURCE}
        for loaded in (None, model):
            again = {p.paper_id for p in next_batch(session, loaded, size=40)}
            assert len(again) == 40 and not again & set(first)
        everything = {c.id for c in candidates(session, limit=10_000)}
        assert everything == set(stored) - set(first)


def test_a_skip_keeps_a_label_given_elsewhere_and_is_stored_once(sessions, stored):
    now = dt.datetime.now(dt.timezone.utc)
    with session_scope(sessions) as session:
        session.add(Label(paper_id=stored[0], interest=1, source="web"))
    with session_scope(sessions) as session:
        done = store_answers(session, [(stored[0], None), (stored[1], None)], now=now)
        assert (done.labelled, done.skipped) == (0, 2)
        again = store_answers(session, [(stored[1], None), (stored[2], 1)], now=now)
        assert (again.labelled, again.skipped) == (1, 1)
        unchanged = store_answers(session, [(stored[2], 1)], now=now)
        assert unchanged.labelled == 0
    with sessions() as session:
        label = session.get_one(Label, (DEFAULT_TOPIC_ID, stored[0]))
        assert (label.interest, label.source) == (1, "web")
        assert len(session.scalars(select(OnboardingSkip)).all()) == 2


def _labels(sessions, interests: list[int]) -> None:
    start = dt.date(2025, 1, 1)
    with session_scope(sessions) as session:
        for n, interest in enumerate(interests):
            paper_id = f"2501.{n:05d}"
            session.add(paper_row(paper_id, submitted_on=start + dt.timedelta(days=n)))
            session.flush()
            session.add(Label(paper_id=paper_id, interest=interest, source="web"))


def test_the_count_toward_a_measured_model_is_the_retrains_rule(sessions):
    with sessions() as session:
        progress = measured_progress(session)
    more_pos, more_neg = MEASURED_MIN_POSITIVES, MEASURED_MIN_NEGATIVES
    assert progress == Progress(0, 0, more_pos, more_neg, False)
    assert progress.needed == more_pos + more_neg

    _labels(sessions, [1, 0, 0, 0] * 3)  # 12 labels, 3 interesting
    with sessions() as session:
        progress = measured_progress(session)
    assert progress == Progress(12, 3, more_pos - 3, more_neg - 9, False)
    assert progress.needed == more_pos + more_neg


def test_enough_labels_spread_over_days_make_a_measured_model(sessions):
    # Each ✓ between two ✕: every part of the split holds interesting ones.
    _labels(sessions, [1, 0, 0] * MEASURED_MIN_POSITIVES)
    total = 3 * MEASURED_MIN_POSITIVES
    with sessions() as session:
        progress = measured_progress(session)
    assert progress == Progress(total, MEASURED_MIN_POSITIVES, 0, 0, True)
    assert progress.needed == total


def test_enough_labels_bunched_in_the_past_are_not_yet_measured(sessions):
    _labels(sessions, [1] * 10 + [0] * 20)  # the newest 40% holds no interesting label
    with sessions() as session:
        progress = measured_progress(session)
    assert not progress.measured and progress.needed > 30
