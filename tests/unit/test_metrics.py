"""The jobs' gauges: what each registry holds once its run has succeeded."""

import time

from churn.metrics import batch_registry, retraining_registry, training_registry

METADATA = {
    "version": "20261122-101010", "algorithm": "hist_gradient_boosting", "threshold": 0.31,
    "training_duration_seconds": 2.5, "rows": {"train": 8000, "test": 2000},
    "metrics": {"f2": 0.74, "roc_auc": 0.88, "pr_auc": 0.7, "precision": 0.44, "recall": 0.9,
                "brier": 0.1, "calibration_error": 0.012},
}


def test_training_gauges_come_from_the_model_metadata():
    registry = training_registry(METADATA)
    value = registry.get_sample_value
    assert value("model_f2_score") == 0.74 and value("model_auc_score") == 0.88
    assert value("model_pr_auc_score") == 0.7 and value("model_precision_score") == 0.44
    assert value("model_recall_score") == 0.9 and value("model_decision_threshold") == 0.31
    assert value("model_brier_score") == 0.1 and value("model_calibration_error") == 0.012
    assert value("model_training_duration_seconds") == 2.5
    assert value("model_training_samples") == 8000
    assert value("model_version_info", {"version": "20261122-101010",
                                        "algorithm": "hist_gradient_boosting"}) == 1
    assert time.time() - value("model_training_last_success_timestamp_seconds") < 60


def test_batch_gauges_cover_every_risk_level():
    registry = batch_registry(100, {"low": 70, "high": 30}, 0.31, 31.0, 1.5)
    value = registry.get_sample_value
    assert value("churn_predictions_high_risk") == 30
    assert [value("churn_predictions_by_level", {"level": level})
            for level in ("low", "medium", "high")] == [70, 0, 30]
    assert value("churn_prediction_score_avg") == 0.31 and value("churn_batch_rows_scored") == 100
    assert value("churn_expected_churners") == 31.0
    assert value("churn_batch_duration_seconds") == 1.5
    assert value("churn_batch_last_success_timestamp_seconds") > 0


def test_batch_carries_the_previous_high_risk_count_once_there_is_one():
    first = batch_registry(100, {"high": 30}, 0.3, 30.0, 1.0)
    assert first.get_sample_value("churn_predictions_high_risk_previous") is None
    second = batch_registry(100, {"high": 45}, 0.4, 40.0, 1.0, previous_high_risk=30)
    assert second.get_sample_value("churn_predictions_high_risk_previous") == 30


def test_retraining_gauges_record_the_decision():
    registry = retraining_registry(False, 0.61, 0.72)
    assert registry.get_sample_value("model_retraining_promoted") == 0
    assert registry.get_sample_value("model_challenger_f2_score") == 0.61
    assert registry.get_sample_value("model_champion_f2_score") == 0.72
