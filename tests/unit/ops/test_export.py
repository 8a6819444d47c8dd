import pytest

from churn.errors import ChurnError
from churn.ops.export import export_metrics, seconds_of
from tests.helpers import settings_for


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("7d", 604800)])
def test_durations(text, seconds):
    assert seconds_of(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "0m", "1.5h", "-1h", "1 hour"])
def test_bad_durations_are_refused_clearly(text):
    with pytest.raises(ChurnError, match="is not a duration such as 30s"):
        seconds_of(text)


def test_unreachable_prometheus_is_one_clear_error_and_no_file(tmp_path):
    settings = settings_for(tmp_path, prometheus_url="http://127.0.0.1:9")
    with pytest.raises(ChurnError, match=r"Prometheus is not reachable at http://127.0.0.1:9"):
        export_metrics(settings, "1h", "15s", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
