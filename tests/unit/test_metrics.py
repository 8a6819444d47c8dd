"""The jobs' gauges and how they are published: a text file always, the Pushgateway when reachable."""

import time

from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from churn.metrics import (
    JOB_TRAINING,
    batch_registry,
    publish,
    read_gauge,
    retraining_registry,
    training_registry,
)

METADATA = {
    "version": "20261122-101010", "algorithm": "hist_gradient_boosting", "threshold": 0.31,
    "training_duration_seconds": 2.5, "rows": {"train": 8000, "test": 2000},
    "metrics": {"f2": 0.74, "roc_auc": 0.88, "pr_auc": 0.7, "precision": 0.44, "recall": 0.9},
}


def test_training_gauges_come_from_the_model_metadata():
    registry = training_registry(METADATA)
    value = registry.get_sample_value
    assert value("model_f2_score") == 0.74 and value("model_auc_score") == 0.88
    assert value("model_pr_auc_score") == 0.7 and value("model_precision_score") == 0.44
    assert value("model_recall_score") == 0.9 and value("model_decision_threshold") == 0.31
    assert value("model_training_duration_seconds") == 2.5
    assert value("model_training_samples") == 8000
    assert value("model_version_info", {"version": "20261122-101010",
                                        "algorithm": "hist_gradient_boosting"}) == 1
    assert time.time() - value("model_training_last_success_timestamp_seconds") < 60


def test_batch_gauges_cover_every_risk_level():
    registry = batch_registry(100, {"low": 70, "high": 30}, 0.31, 1.5)
    value = registry.get_sample_value
    assert value("churn_predictions_high_risk") == 30
    assert [value("churn_predictions_by_level", {"level": level})
            for level in ("low", "medium", "high")] == [70, 0, 30]
    assert value("churn_prediction_score_avg") == 0.31 and value("churn_batch_rows_scored") == 100
    assert value("churn_batch_duration_seconds") == 1.5
    assert value("churn_batch_last_success_timestamp_seconds") > 0


def test_batch_carries_the_previous_high_risk_count_once_there_is_one(settings, tmp_path):
    first = batch_registry(100, {"high": 30}, 0.3, 1.0)
    assert first.get_sample_value("churn_predictions_high_risk_previous") is None
    publish("churn-batch-prediction", first, settings, tmp_path / "p.prom", push=False)
    assert read_gauge(tmp_path / "p.prom", "churn_predictions_high_risk") == 30
    second = batch_registry(100, {"high": 45}, 0.4, 1.0, previous_high_risk=30)
    assert second.get_sample_value("churn_predictions_high_risk_previous") == 30


def test_retraining_gauges_record_the_decision():
    registry = retraining_registry(False, 0.61, 0.72)
    assert registry.get_sample_value("model_retraining_promoted") == 0
    assert registry.get_sample_value("model_challenger_f2_score") == 0.61
    assert registry.get_sample_value("model_champion_f2_score") == 0.72


def test_no_push_still_writes_the_text_file(settings, tmp_path):
    textfile = tmp_path / "metrics.prom"
    assert publish(JOB_TRAINING, training_registry(METADATA), settings, textfile, push=False) is False
    names = {family.name for family in text_string_to_metric_families(textfile.read_text())}
    assert {"model_f2_score", "model_version_info"} <= names


def test_unreachable_pushgateway_warns_once_naming_the_url(settings, tmp_path):
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    try:
        pushed = publish(JOB_TRAINING, training_registry(METADATA), settings, tmp_path / "m.prom")
    finally:
        logger.remove(sink)
    assert pushed is False
    assert len(warnings) == 1 and settings.pushgateway_url in warnings[0]
    assert str(tmp_path / "m.prom") in warnings[0]
    assert (tmp_path / "m.prom").is_file()
