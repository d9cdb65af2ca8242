"""The threshold rules and the reported metrics, on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import best_f1_threshold, choose_threshold, split_metrics

LABELS = np.array([0, 0, 1, 0, 1, 1, 0, 1, 0, 0])
SCORES = np.array([0.1, 0.2, 0.9, 0.35, 0.8, 0.4, 0.7, 0.3, 0.05, 0.15])


def _f1_at(threshold: float) -> float:
    predicted = threshold <= SCORES
    tp = (predicted & (LABELS == 1)).sum()
    return 2 * tp / (predicted.sum() + LABELS.sum())


def test_best_f1_threshold_is_the_brute_force_best() -> None:
    threshold, f1 = best_f1_threshold(LABELS, SCORES)
    brute = max(SCORES, key=_f1_at)
    assert threshold == pytest.approx(brute)
    assert f1 == pytest.approx(_f1_at(brute))


def test_precision_target_keeps_most_recall() -> None:
    threshold, rule = choose_threshold(LABELS, SCORES, strategy="precision", target=1.0)
    assert threshold == pytest.approx(0.8)  # 0.9 and 0.8 are positives; 0.7 is not
    assert "precision >= 1" in rule


def test_unreachable_precision_falls_back_loudly(caplog: pytest.LogCaptureFixture) -> None:
    labels = np.array([0, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    threshold, rule = choose_threshold(labels, scores, strategy="precision", target=0.9)
    assert "not reachable" in rule
    assert "no threshold reaches precision 0.900" in caplog.text
    # Precision 0.5 is the best on offer, at 0.8 and at 0.1; 0.1 also keeps all the recall.
    assert threshold == pytest.approx(0.1)


def test_recall_target_keeps_most_precision() -> None:
    threshold, _ = choose_threshold(LABELS, SCORES, strategy="recall", target=0.75)
    assert threshold == pytest.approx(0.4)  # 0.9, 0.8, 0.4 are three of the four positives


def test_per_day_target() -> None:
    threshold, rule = choose_threshold(LABELS, SCORES, strategy="per_day", target=1.5, days=2)
    assert threshold == pytest.approx(0.7)  # round(1.5 * 2) = 3: the 3rd highest score
    assert "1.5 recommended papers a day" in rule


def test_split_metrics_at_threshold() -> None:
    metrics = split_metrics(LABELS, SCORES, threshold=0.4, days=5)
    assert metrics["predicted_positives"] == 4  # 0.9, 0.8, 0.7, 0.4
    assert metrics["precision"] == pytest.approx(0.75)
    assert metrics["recall"] == pytest.approx(0.75)
    assert metrics["f1"] == pytest.approx(0.75)
    assert metrics["recommended_per_day"] == pytest.approx(0.8)
    assert metrics["roc_auc"] == pytest.approx(21 / 24)  # pairs where the positive scores higher
    assert 0 < metrics["average_precision"] <= 1
    assert metrics["optimistic_best_f1"] >= metrics["f1"]


def test_split_metrics_with_one_class_has_no_ranking_metrics() -> None:
    metrics = split_metrics(np.zeros(3), np.array([0.1, 0.5, 0.9]), threshold=0.5, days=1)
    assert metrics["average_precision"] is None
    assert metrics["roc_auc"] is None
    assert metrics["predicted_positives"] == 2
