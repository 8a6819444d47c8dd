"""The jobs as the scripts run them: results published once, and bootstrap."""

import os
import shutil

import pytest

from churn.data.synthetic import generate
from churn.jobs import batch_job, bootstrap, training_job
from churn.model.registry import latest_version
from churn.publishing import read_gauge
from tests.helpers import settings_for

pytestmark = pytest.mark.slow


def test_bootstrap_trains_and_scores_once_then_only_after_new_data(settings, customers_csv):
    bootstrap(settings)
    first = latest_version(settings.models_dir)
    scored = settings.predictions_path.stat().st_mtime_ns
    assert sum(1 for _ in settings.predictions_path.open()) == 3001  # header + every customer

    bootstrap(settings)
    assert latest_version(settings.models_dir) == first
    assert settings.predictions_path.stat().st_mtime_ns == scored

    later = settings.predictions_path.stat().st_mtime + 5
    os.utime(customers_csv, (later, later))
    bootstrap(settings)
    assert latest_version(settings.models_dir) != first
    assert settings.predictions_path.stat().st_mtime_ns > scored


@pytest.fixture
def project(trained_project, tmp_path):
    shutil.copytree(trained_project.models_dir, tmp_path / "models")
    (tmp_path / "data").mkdir()
    shutil.copy(trained_project.data_path, tmp_path / "data" / "customers.csv")
    return settings_for(tmp_path)


def test_training_job_publishes_the_new_models_gauges_beside_it(settings, customers_csv):
    run = training_job(settings, push=False)
    textfile = settings.models_dir / run.version / "metrics.prom"
    assert read_gauge(textfile, "model_f2_score") == pytest.approx(run.metadata["metrics"]["f2"])
    assert read_gauge(textfile, "model_training_samples") == run.metadata["rows"]["train"]


def test_second_batch_publishes_the_first_batchs_high_risk_count(project):
    first = batch_job(project, push=False)
    textfile = project.predictions_path.with_suffix(".prom")
    assert read_gauge(textfile, "churn_predictions_high_risk_previous") is None
    batch_job(project, push=False)
    assert read_gauge(textfile, "churn_predictions_high_risk_previous") == first.by_level["high"]


def test_batch_job_publishes_its_drift_under_the_apis_names(project, tmp_path):
    generate(2000, seed=12, drift=True).to_csv(tmp_path / "drifted.csv", index=False)
    batch_job(project, data_path=tmp_path / "drifted.csv", out_path=tmp_path / "d.csv", push=False)
    assert read_gauge(tmp_path / "d.prom", "churn_data_drift_detected") == 1
    assert read_gauge(tmp_path / "d.prom", "churn_feature_drift_psi") is not None
    batch_job(project, push=False)
    assert read_gauge(project.predictions_path.with_suffix(".prom"), "churn_data_drift_detected") == 0
