"""The prequential bench end to end on the fixture's last three days: the service's own retrain,
ingestion from the arXiv stand-in, scoring and label store, each on a fresh database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.core.db import Database
from app.store.schema import Label
from bench import prequential
from tests.conftest import LABELS_CSV
from training.inference.layout import load_labelled_csv

FIRST_DAY = "2025-05-07"  # the fixture's last three listing days: 07, 08, 09 May
SHARES = (
    "average_precision",
    "mean_daily_average_precision",
    "precision_at_10",
    "precision",
    "recall",
    "f1",
    "optimistic_best_f1",
)
COUNTS = ("days", "papers", "positives", "retrains", "activated")
SECONDS = (
    "retrain_seconds_mean",
    "retrain_seconds_max",
    "ingest_score_seconds_mean",
    "total_seconds",
)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    work = tmp_path_factory.mktemp("prequential")
    out = work / "replay.json"
    code = prequential.main(
        [
            "--data",
            str(LABELS_CSV),
            "--from",
            FIRST_DAY,
            "--json",
            str(out),
            "--work-dir",
            str(work / "runs"),
        ]
    )
    assert code == 0
    return json.loads(out.read_text()), work / "runs"


def _period(frame):
    return frame[frame["submission_date"].dt.strftime("%Y-%m-%d") >= FIRST_DAY]


def test_the_report_has_every_figure_in_range(replayed):
    report, _ = replayed
    period = _period(load_labelled_csv(LABELS_CSV))
    assert report["settings"] == {
        "data": str(LABELS_CSV),
        "from": FIRST_DAY,
        "to": "2025-05-09",
        "retrain_every": 1,
        "method": "tfidf",
        "threshold_strategy": "f1",
        "threshold_target": None,
        "seed": 42,
    }
    assert set(report["runs"]) == {"nightly", "fixed"}
    for kind, run in report["runs"].items():
        for name in SHARES:
            assert 0.0 <= run[name] <= 1.0, (kind, name, run[name])
        for name in (*COUNTS, *SECONDS):
            assert run[name] >= 0, (kind, name, run[name])
        assert run["days"] == 3 and len(run["daily"]) == 3
        assert run["papers"] == len(period) and run["positives"] == int(period["interest"].sum())
        assert run["f1_ratio"] == pytest.approx(run["f1"] / run["optimistic_best_f1"])
        assert 0 <= run["recommended_per_day"] <= len(period) / 3
        assert 1 <= run["activated"] <= run["retrains"]
        assert [day["day"] for day in run["daily"]] == ["2025-05-07", "2025-05-08", "2025-05-09"]
    nightly, fixed = report["runs"]["nightly"], report["runs"]["fixed"]
    # One threshold over the whole period: the shipped F1 cannot beat the best threshold's.
    assert fixed["f1_ratio"] <= 1.0 + 1e-9
    assert fixed["retrains"] == 1 and 1 <= nightly["retrains"] <= 3
    assert nightly["final_retrain"]["labels"] == 300 and fixed["final_retrain"] is None
    # Both start from the same labels and seed: the first day is scored alike.
    assert nightly["daily"][0]["average_precision"] == fixed["daily"][0]["average_precision"]


@pytest.mark.parametrize("kind", ["nightly", "fixed"])
def test_the_revealed_labels_are_stored_as_the_reader_gave_them(replayed, kind):
    report, runs = replayed
    frame = load_labelled_csv(LABELS_CSV)
    period = _period(frame)
    database = Database(f"sqlite:///{runs / kind / 'arxiv_reco.db'}", migrate=False)
    try:
        with database.sessions() as session:
            labels = {
                label.paper_id: (label.interest, label.source)
                for label in session.scalars(select(Label))
            }
    finally:
        database.dispose()
    assert len(labels) == len(frame)
    for paper_id, interest in zip(period["paper_id"], period["interest"], strict=True):
        assert labels[paper_id] == (interest, prequential.REVEAL_SOURCE)
    assert report["runs"][kind]["labels_stored"] == {
        "csv": len(frame) - len(period),
        prequential.REVEAL_SOURCE: len(period),
    }
