"""Bootstrap makes only what is missing or out of date, like `make run`."""

import os

import pytest

from churn.bootstrap import bootstrap
from churn.model.registry import latest_version

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
