"""Calibration: on data with known rates, a paper at p% is interesting about p% of the time."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibrate import fit_platt
from training.inference.calibration import Calibration


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw scores squashed towards 0.5 (as a class-weighted model's are) and labels drawn from a
    known true probability of interest."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.5, 1.5, n)  # the true log-odds: about 12% interesting
    truth = 1 / (1 + np.exp(-z))
    labels = (rng.random(n) < truth).astype(int)
    raw = 1 / (1 + np.exp(-(0.4 * z + 1.0)))  # monotone in the truth, badly scaled
    return raw, labels, truth


def test_platt_recovers_known_rates_within_tolerance() -> None:
    raw, labels, _ = _synthetic(4000, seed=1)
    calibration = fit_platt(raw, labels)
    test_raw, test_labels, truth = _synthetic(20000, seed=2)
    probabilities = calibration.apply(test_raw)
    assert np.abs(probabilities - truth).mean() < 0.02
    # Reliability: in each probability bin, the share interesting matches the stated probability.
    bins = np.digitize(probabilities, [0.1, 0.3, 0.5, 0.7])
    checked = 0
    for b in np.unique(bins):
        inside = bins == b
        if inside.sum() >= 200:
            stated = probabilities[inside].mean()
            noise = 3 * np.sqrt(stated * (1 - stated) / inside.sum())  # three standard errors
            assert test_labels[inside].mean() == pytest.approx(stated, abs=noise + 0.01)
            checked += 1
    assert checked >= 3
    # Raw scores are far off: the class-weighted scale says ~50% for a 12% paper.
    assert np.abs(test_raw - truth).mean() > 0.2


def test_calibration_keeps_the_ranking_and_round_trips() -> None:
    raw, labels, _ = _synthetic(1000, seed=3)
    calibration = fit_platt(raw, labels)
    order = np.argsort(raw)
    assert np.all(np.diff(calibration.apply(raw)[order]) >= 0)
    again = Calibration.from_dict(calibration.as_dict())
    assert np.allclose(again.apply(raw), calibration.apply(raw))


def test_calibration_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both interesting and uninteresting"):
        fit_platt(np.array([0.2, 0.4]), np.array([0, 0]))
