"""Publishing a job's metrics: a text file always, the Pushgateway when reachable."""

import pytest
from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from churn.metrics import JOB_TRAINING, batch_registry, training_registry
from churn.publishing import publish, read_gauge
from tests.unit.test_metrics import METADATA


def test_no_push_still_writes_the_text_file(settings, tmp_path):
    textfile = tmp_path / "metrics.prom"
    assert publish(JOB_TRAINING, training_registry(METADATA), settings, textfile, push=False) is False
    names = {family.name for family in text_string_to_metric_families(textfile.read_text())}
    assert {"model_f2_score", "model_version_info"} <= names


def test_a_published_gauge_reads_back_and_a_missing_one_is_none(settings, tmp_path):
    textfile = tmp_path / "p.prom"
    assert read_gauge(textfile, "churn_predictions_high_risk") is None
    publish("churn-batch-prediction", batch_registry(100, {"high": 30}, 0.3, 30.0, 1.0), settings, textfile,
            push=False)
    assert read_gauge(textfile, "churn_predictions_high_risk") == 30
    assert read_gauge(textfile, "churn_predictions_high_risk_previous") is None


def published_with_warnings(settings, textfile) -> tuple[bool, list[str]]:
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    try:
        pushed = publish(JOB_TRAINING, training_registry(METADATA), settings, textfile)
    finally:
        logger.remove(sink)
    return pushed, warnings


@pytest.mark.parametrize("url", ["http://[not-a-url", "not a url", "localhost:port", "notaurl", ""])
def test_a_pushgateway_url_that_is_not_a_url_warns_like_an_unreachable_one(settings, tmp_path, url):
    pushed, warnings = published_with_warnings(settings.model_copy(update={"pushgateway_url": url}),
                                               tmp_path / "m.prom")
    assert pushed is False
    assert len(warnings) == 1 and f"Pushgateway at {url} " in warnings[0]
    assert (tmp_path / "m.prom").is_file()


def test_a_metrics_file_that_cannot_be_written_warns_and_still_pushes(settings, tmp_path):
    (tmp_path / "m.prom").mkdir()
    pushed, warnings = published_with_warnings(settings, tmp_path / "m.prom")
    assert pushed is False
    assert len(warnings) == 2 and f"{tmp_path / 'm.prom'} is a folder" in warnings[0]
    assert "could not push" in warnings[1]


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
