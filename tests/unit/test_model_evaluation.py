import numpy as np
import pytest

from churn.model.evaluation import (
    best_f2_threshold,
    bootstrap_intervals,
    calibration_error,
    evaluate,
    reliability,
)


def test_best_f2_threshold_on_a_hand_computed_example():
    y = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6])
    # Cutting at 0.35 catches all three churners with one false alarm:
    # precision 3/4, recall 1, F2 = 5 * 0.75 / (4 * 0.75 + 1) = 0.9375, the best possible here.
    threshold, f2 = best_f2_threshold(y, scores)
    assert threshold == pytest.approx(0.35)
    assert f2 == pytest.approx(0.9375)


def test_evaluate_reports_every_metric_at_the_threshold():
    y = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6])
    metrics = evaluate(y, scores, threshold=0.5)
    assert metrics["confusion_matrix"] == {"tn": 3, "fp": 0, "fn": 1, "tp": 2}
    assert metrics["precision"] == 1.0
    assert metrics["recall"] == pytest.approx(0.6667)
    assert metrics["f2"] == pytest.approx(round(5 * 1 * (2 / 3) / (4 + 2 / 3), 4))
    assert metrics["roc_auc"] == pytest.approx(8 / 9, abs=1e-4)
    assert set(metrics) == {"f2", "roc_auc", "pr_auc", "precision", "recall", "f1", "brier",
                            "calibration_error", "mean_score", "churn_rate", "confusion_matrix"}
    # Brier: mean squared gap, (0.01 + 0.16 + 0.4225 + 0.04 + 0.04 + 0.16) / 6.
    assert metrics["brier"] == pytest.approx(0.8325 / 6, abs=1e-4)
    assert metrics["mean_score"] == pytest.approx(2.45 / 6, abs=1e-4) and metrics["churn_rate"] == 0.5


def test_reliability_and_calibration_error_on_a_hand_computed_example():
    y = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6])
    table = reliability(y, scores)
    assert table == [
        {"bin": "0.1-0.2", "mean_score": 0.1, "observed_rate": 0.0, "count": 1},
        {"bin": "0.2-0.3", "mean_score": 0.2, "observed_rate": 0.0, "count": 1},
        {"bin": "0.3-0.4", "mean_score": 0.35, "observed_rate": 1.0, "count": 1},
        {"bin": "0.4-0.5", "mean_score": 0.4, "observed_rate": 0.0, "count": 1},
        {"bin": "0.6-0.7", "mean_score": 0.6, "observed_rate": 1.0, "count": 1},
        {"bin": "0.8-0.9", "mean_score": 0.8, "observed_rate": 1.0, "count": 1}]
    # Each customer alone in its bin: the error is the mean gap, (0.1+0.2+0.65+0.4+0.4+0.2) / 6.
    assert calibration_error(y, scores) == pytest.approx(1.95 / 6)


def test_bootstrap_intervals_hold_the_metric_and_narrow_with_more_rows():
    rng = np.random.default_rng(3)
    widths = []
    for rows in (500, 8000):
        scores = rng.random(rows)
        y = (rng.random(rows) < scores).astype(int)
        intervals = bootstrap_intervals(y, scores, threshold=0.3)
        metrics = evaluate(y, scores, threshold=0.3)
        for name in ("f2", "roc_auc", "brier"):
            low, high = intervals[name]
            assert low <= metrics[name] <= high, name
        # Resampling adds noise to every bin, and noise only widens gaps: the calibration error's
        # interval runs high, and for these perfectly calibrated scores sits above the estimate.
        assert intervals["calibration_error"][1] >= metrics["calibration_error"]
        widths.append(intervals["roc_auc"][1] - intervals["roc_auc"][0])
    # sqrt(16) = 4 times the rows' worth of narrowing, give or take the resampling.
    assert 2.5 < widths[0] / widths[1] < 6


def test_rows_of_one_class_have_no_intervals_rather_than_an_error():
    assert bootstrap_intervals(np.zeros(5, dtype=int), np.linspace(0.1, 0.5, 5), threshold=0.3) == {}
