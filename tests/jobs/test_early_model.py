"""A model from the first interesting paper: the early regime, then the measured one."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import delete, select

from app.core.db import session_scope
from app.jobs.retrain import label_progress, nightly_retrain, retrain
from app.serving.registry import active_model
from app.store.labels import import_labels_csv, load_labels, set_label
from app.store.schema import Label, Paper, RetrainRun
from tests.conftest import LABELS_CSV
from training.inference.artifact import ModelMeta
from training.inference.layout import DataError, paper_inputs
from training.inference.predictor import load_predictor, score_papers
from training.regime import (
    EARLY,
    MEASURED,
    MEASURED_MIN_NEGATIVES,
    MEASURED_MIN_POSITIVES,
    readiness,
)

FRAME = pd.read_csv(LABELS_CSV, dtype={"paper_id": str})
POSITIVES = FRAME.loc[FRAME["interest"] == 1, "paper_id"].tolist()
NEGATIVES = FRAME.loc[FRAME["interest"] == 0, "paper_id"].tolist()


@pytest.fixture
def stored(sessions):
    """The fixture's 300 papers stored, none of them labelled: a new reader's database."""
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
        session.execute(delete(Label))
    return sessions


def _label(sessions, positives=(), negatives=()):
    with session_scope(sessions) as session:
        for pid in positives:
            set_label(session, paper_id=pid, interest=1, source="page")
        for pid in negatives:
            set_label(session, paper_id=pid, interest=0, source="page")


def _active_meta(sessions) -> ModelMeta:
    with sessions() as session:
        return ModelMeta.load(active_model(session).path)


def test_one_interesting_paper_makes_an_early_model_that_ranks_the_day(stored, settings):
    # The fixture's days hold about 6 papers each: ask for 1 a day.
    settings = settings.model_copy(update={"early_daily_picks": 1})
    _label(stored, positives=POSITIVES[:1])
    outcome = retrain(stored, settings)
    assert outcome.activated and outcome.method == "tfidf"
    assert "an early model, from 1 interesting paper" in outcome.reason
    meta = _active_meta(stored)
    assert meta.info["regime"] == EARLY and meta.metrics == {}
    assert meta.info["served_model"]["weak_negatives"] == len(FRAME) - 1
    assert meta.calibration["slope"] == 1.0 and "prior" in meta.calibration["fit_on"]
    # The threshold lets about early_daily_picks papers of a typical stored day through.
    with stored() as session:
        path = active_model(session).path
    unlabelled = FRAME[FRAME["paper_id"] != POSITIVES[0]].assign(
        submission_date=lambda f: pd.to_datetime(f["submission_date"], utc=True)
    )
    scores = score_papers(load_predictor(path), paper_inputs(unlabelled))
    per_day = (
        unlabelled.assign(picked=scores >= meta.threshold)
        .groupby(unlabelled["submission_date"].dt.date)["picked"]
        .sum()
    )
    big_days = unlabelled.groupby(unlabelled["submission_date"].dt.date).size() >= 2
    # The threshold is the median day's k-th score: half the days pick at least k, half at most.
    picks, k = per_day[big_days], settings.early_daily_picks
    assert (picks >= k).mean() >= 0.5 and (picks <= k).mean() >= 0.5
    # The probabilities are a prior: their mean is about a typical day's picks over its size.
    share = settings.early_daily_picks / unlabelled.groupby("submission_date").size().median()
    assert scores.mean() == pytest.approx(share, rel=0.05)
    with stored() as session:
        run = session.scalar(select(RetrainRun).order_by(RetrainRun.id.desc()))
        assert run.status == "success" and run.method == "tfidf"


def test_interesting_papers_alone_rank_their_kind_first(stored, settings):
    """Positives alone, no ✕: the other fixture positives rank above the negatives."""
    _label(stored, positives=POSITIVES[:5])
    assert retrain(stored, settings).activated
    with stored() as session:
        path = active_model(session).path
    rest = FRAME[~FRAME["paper_id"].isin(POSITIVES[:5])]
    scores = score_papers(load_predictor(path), paper_inputs(rest))
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(rest["interest"], scores) > 0.6


def test_an_early_model_reads_explicit_not_for_me_above_the_weak_ones(stored, settings):
    _label(stored, positives=POSITIVES[:3], negatives=NEGATIVES[:4])
    assert retrain(stored, settings).activated
    with stored() as session:
        path = active_model(session).path
    scores = score_papers(
        load_predictor(path), paper_inputs(FRAME[FRAME["paper_id"].isin(NEGATIVES[:4])])
    )
    others = score_papers(
        load_predictor(path), paper_inputs(FRAME[FRAME["paper_id"].isin(NEGATIVES[4:])])
    )
    assert scores.mean() < others.mean()


@pytest.mark.parametrize(
    ("positives", "negatives", "message"),
    [
        (0, 0, "no labels yet: mark a paper ✓ interesting"),
        (0, 3, "no paper is marked interesting yet: mark at least one paper ✓"),
    ],
)
def test_a_refused_retrain_says_what_to_do_in_plain_words(
    stored, settings, positives, negatives, message
):
    _label(stored, positives=POSITIVES[:positives], negatives=NEGATIVES[:negatives])
    with pytest.raises(DataError, match=message) as refused:
        retrain(stored, settings)
    assert "--" not in str(refused.value)


def test_with_nothing_but_the_labelled_papers_an_early_model_asks_for_a_day(sessions, settings):
    with session_scope(sessions) as session:
        session.add(
            Paper(
                id=POSITIVES[0],
                title="A",
                abstract="An abstract.",
                submitted_at=pd.Timestamp("2025-03-18", tz="UTC").to_pydatetime(),
                submitted_on=pd.Timestamp("2025-03-18").date(),
            )
        )
    _label(sessions, positives=POSITIVES[:1])
    with pytest.raises(DataError, match="fetch a day of arXiv listings first"):
        retrain(sessions, settings)


def test_the_nightly_loop_retrains_from_one_interesting_paper(stored, settings):
    _label(stored, positives=POSITIVES[:1])
    first = nightly_retrain(stored, settings)
    assert first is not None and first.activated
    assert nightly_retrain(stored, settings) is None  # the same labels: nothing to do
    _label(stored, positives=POSITIVES[1:2])
    assert nightly_retrain(stored, settings).activated


def test_readiness_counts_what_a_measured_model_needs():
    frame = FRAME.assign(submission_date=pd.to_datetime(FRAME["submission_date"], utc=True))
    few = frame[frame["paper_id"].isin(POSITIVES[:3] + NEGATIVES[:5])]
    ready = readiness(few, val_fraction=0.2, test_fraction=0.2)
    assert ready.regime == EARLY
    assert ready.positives_needed == MEASURED_MIN_POSITIVES - 3
    assert ready.negatives_needed == MEASURED_MIN_NEGATIVES - 5
    assert f"{MEASURED_MIN_POSITIVES - 3} more interesting papers (✓)" in ready.message
    assert readiness(frame, val_fraction=0.2, test_fraction=0.2).regime == MEASURED
    # Enough in number, but every interesting paper is older than the split's newest rows.
    old_first = frame.sort_values("submission_date")
    skewed = pd.concat(
        [
            old_first[old_first["interest"] == 1].head(MEASURED_MIN_POSITIVES),
            old_first[old_first["interest"] == 0].tail(MEASURED_MIN_NEGATIVES + 20),
        ]
    )
    late = readiness(skewed, val_fraction=0.2, test_fraction=0.2)
    assert late.regime == EARLY and "interesting papers of recent days" in late.message


def test_enough_labels_switch_to_the_measured_regime_on_their_own(stored, settings):
    _label(stored, positives=POSITIVES[:2], negatives=NEGATIVES[:2])
    assert retrain(stored, settings).activated
    assert _active_meta(stored).info["regime"] == EARLY
    with stored() as session:
        progress = label_progress(session)
    assert progress.regime == EARLY and progress.positives_needed == MEASURED_MIN_POSITIVES - 2
    with session_scope(stored) as session:
        import_labels_csv(session, LABELS_CSV)
    outcome = retrain(stored, settings)
    meta = _active_meta(stored)
    assert outcome.activated and meta.info.get("regime") != EARLY
    assert outcome.reason == "the first measured model replaces the early one"
    assert meta.metrics["test"]["average_precision"] is not None
    assert meta.calibration["fit_on"] == "validation"
    with stored() as session:
        assert label_progress(session).regime == MEASURED
        # /status reads only ids, days and labels; the same answer as the full labels give.
        assert label_progress(session) == readiness(
            load_labels(session), val_fraction=0.2, test_fraction=0.2
        )


def test_status_and_page_say_it_is_an_early_model_and_what_makes_a_measured_one(
    stored, settings, client
):
    _label(stored, positives=POSITIVES[:3])
    assert retrain(stored, settings).activated
    status = client.get("/status").json()
    assert status["model"]["regime"] == EARLY
    assert status["labels"] == {
        "regime": EARLY,
        "positives": 3,
        "negatives": 0,
        "positives_needed": MEASURED_MIN_POSITIVES - 3,
        "negatives_needed": MEASURED_MIN_NEGATIVES,
        "message": status["labels"]["message"],
    }
    page = client.get("/").text
    assert "an early model, about 10 papers a day" in page
    assert f"{MEASURED_MIN_POSITIVES - 3} more ✓ and {MEASURED_MIN_NEGATIVES} more ✕" in page


def test_a_small_database_keeps_its_negatives(sessions, settings):
    """Pseudo-positives never take the few stored papers a new reader has: 17 papers, one ✓."""
    with session_scope(sessions) as session:
        import_labels_csv(session, LABELS_CSV)
        session.execute(delete(Label))
        keep = set(FRAME["paper_id"].iloc[:18])
        for paper in session.scalars(select(Paper)).all():
            if paper.id not in keep:
                session.delete(paper)
    _label(sessions, positives=[FRAME["paper_id"].iloc[0]])
    outcome = retrain(sessions, settings)
    assert outcome.activated and _active_meta(sessions).info["regime"] == EARLY
