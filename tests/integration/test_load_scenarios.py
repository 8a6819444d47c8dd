"""The load test's scenarios against the native stack: each moves what its --help promises, and
errors and slow burn the SLOs' error budgets fast enough to page.

Scenarios are shortened with the script's own options, never special code paths. Prometheus
loads a copy of the rules whose `for:` durations are seconds instead of minutes, so that an
alert a scenario should fire fires within the test; everything else is the shipped rules.
"""

import json
import re
import subprocess
import sys

import pytest
import requests

from churn.ops.native_stack import NativeStack
from tests.helpers import REPO
from tests.integration.processes import native_stack, started_stack

pytestmark = pytest.mark.slow
TOKEN = "scenario-token"
SHORT_FOR = "5s"


@pytest.fixture(scope="module")
def stack(scored_project, tmp_path_factory):
    rules = tmp_path_factory.mktemp("rules")
    for path in (REPO / "monitoring" / "prometheus" / "rules").glob("*.rules.yml"):
        (rules / path.name).write_text(re.sub(r"\bfor: \d+[smh]\b", f"for: {SHORT_FOR}", path.read_text()))
    # A drift window of 300 inputs instead of 1,000, so the drift scenario fills it with 400.
    native = native_stack(scored_project, tmp_path_factory.mktemp("scenarios"), rules,
                          CHURN_ADMIN_TOKEN=TOKEN, CHURN_DEMO_FAULTS="true",
                          CHURN_DRIFT_WINDOW_SIZE="300")
    with started_stack(native):
        yield native


def load_test(stack: NativeStack, tmp_path, *args: str) -> dict:
    """Runs the script against the stack's API; its summary."""
    out = tmp_path / "summary.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "load_test.py"), "--url", stack.url("api"),
         "--no-progress", "--json", str(out), *args],
        env=stack.env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    (summary,) = json.loads(out.read_text())
    return summary


def firing(stack: NativeStack, alert: str) -> list[dict]:
    return stack.wait_for(f'ALERTS{{alertname="{alert}", alertstate="firing"}}', timeout=90)


def faults_off(stack: NativeStack) -> None:
    stack.wait_until(lambda: not stack.query("api_fault_injected > 0"), "fault gauge scraped at 0")
    switch = requests.get(stack.url("api") + "/admin/faults", timeout=5,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    assert switch.json() == {"faults": []}


def test_mixed_moves_rates_latency_and_errors_by_status(stack, tmp_path):
    summary = load_test(stack, tmp_path, "--scenario", "mixed", "--requests", "300", "--rps", "100")
    assert {"200", "404", "422"} <= set(summary["statuses"])
    stack.wait_for('job:api_requests:rate5m{job="api-churn"} > 0')
    stack.wait_for('endpoint:api_request_duration_seconds:p95_rate5m{endpoint="/predict"} > 0')
    for status in ("404", "422"):
        stack.wait_for(f'sum(api_errors_total{{job="api-churn", status_code="{status}"}}) > 0')
    stack.wait_for('sum(model_predictions_total{job="api-churn", source="model"}) > 0')


def test_errors_raise_the_5xx_ratio_and_fire_the_alert_then_the_fault_is_off(stack, tmp_path):
    summary = load_test(stack, tmp_path, "--scenario", "errors", "--duration", "20", "--rps", "25")
    assert summary["statuses"]["500"] > 0.3 * summary["requests"]
    stack.wait_for('job:api_requests_5xx:ratio_rate5m{job="api-churn"} > 0.05')
    firing(stack, "ApiHighErrorRate")
    # Half the requests failing burns a 0.5% budget about 100 times too fast: it pages.
    stack.wait_for('slo:current_burn_rate:ratio{slo="availability"} > 14.4')
    firing(stack, "ApiAvailabilityErrorBudgetPage")
    faults_off(stack)


def test_slow_moves_p95_past_two_seconds_and_fires_the_alert(stack, tmp_path):
    summary = load_test(stack, tmp_path, "--scenario", "slow", "--duration", "15")
    assert summary["latency_ms"]["p50"] >= 2500
    stack.wait_for('job:api_request_duration_seconds:p95_rate5m{job="api-churn"} > 2')
    firing(stack, "ApiHighLatency")
    # Every slow answer misses the 250 ms objective; how fast that burns the 1% budget depends on
    # the fast traffic of the other tests in the same windows, but always more than 3x: a ticket.
    stack.wait_for('slo:current_burn_rate:ratio{slo="latency"} > 3')
    firing(stack, "ApiLatencyErrorBudgetTicket")
    faults_off(stack)


def test_drift_fills_the_window_and_raises_the_flag(stack, tmp_path):
    summary = load_test(stack, tmp_path, "--scenario", "drift", "--requests", "400")
    assert summary["statuses"] == {"200": 400}
    stack.wait_for('churn_data_drift_detected{job="api-churn"} == 1')
    firing(stack, "DataDriftDetected")
