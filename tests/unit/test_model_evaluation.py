import numpy as np
import pytest

from churn.model.evaluation import best_f2_threshold, evaluate


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
    assert set(metrics) == {"f2", "roc_auc", "pr_auc", "precision", "recall", "f1",
                            "confusion_matrix"}
