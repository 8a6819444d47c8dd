"""scripts/load_test.py against a real server: its figures agree with the API's own metrics, it
stays on this machine, it stops cleanly on Ctrl-C, and a fault it switched on is always off after."""

import json
import shutil
import signal
import subprocess
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from churn.metrics import LATENCY_BUCKETS
from churn.ops.native_stack import wait_until
from tests.helpers import REPO, env_for
from tests.integration.processes import answers, free_port, running

pytestmark = pytest.mark.slow
TOKEN = "load-test-token"


@pytest.fixture(scope="module")
def api(scored_project, tmp_path_factory):
    """One server with the demo fault switch for the module; tests compare before and after."""
    root = tmp_path_factory.mktemp("load")
    shutil.copytree(scored_project, root, dirs_exist_ok=True)
    port = free_port()
    env = env_for(root, CHURN_ADMIN_TOKEN=TOKEN, CHURN_DEMO_FAULTS="true")
    command = [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(port)]
    with running(command, env, root / "serve.out") as process:
        url = f"http://127.0.0.1:{port}"
        wait_until(answers(f"{url}/ready"), "API ready", process=process)
        yield url, root, env


def load_test(api, *args, check=True) -> subprocess.CompletedProcess:
    url, _, env = api
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "load_test.py"), "--url", url,
                             "--no-progress", *args], env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def scraped(url: str) -> dict:
    """(name, labels) -> value, summed over the labels not named."""
    values: dict = {}
    for family in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def total(values: dict, name: str, **labels) -> float:
    return sum(value for (sample, sample_labels), value in values.items() if sample == name
               and all(dict(sample_labels).get(key) == wanted for key, wanted in labels.items()))


def traffic(values: dict, **labels) -> float:
    """Requests to the scoring routes: what the load test sends (it also reads /model once)."""
    return sum(total(values, "api_requests_total", endpoint=endpoint, **labels)
               for endpoint in ("/churn/{customer_id}", "/predict"))


def test_mixed_traffic_is_counted_by_the_api_exactly(api, tmp_path):
    url, _, _ = api
    before = scraped(url)
    load_test(api, "--scenario", "mixed", "--requests", "300", "--rps", "200",
              "--json", str(tmp_path / "summary.json"))
    after = scraped(url)
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests"] == 300 and not summary["interrupted"]
    assert traffic(after) - traffic(before) == 300
    for status, count in summary["statuses"].items():
        assert traffic(after, status_code=status) - traffic(before, status_code=status) == count, status
    assert {"200", "404", "422"} <= set(summary["statuses"])
    assert summary["by_call"]["predict"] > 0


def test_its_latency_agrees_with_the_apis_histogram(api, tmp_path):
    """The client's median lies in the bucket where the server's median falls, or the next one up
    (the client also counts the network). One client at a time: with many, both sides of this
    2-core machine queue for the CPU, which the client sees and the server's clock does not."""
    url, _, _ = api
    before = scraped(url)
    load_test(api, "--scenario", "heavy", "--workers", "1", "--json", str(tmp_path / "summary.json"))
    after = scraped(url)
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    endpoint = "/churn/{customer_id}"
    counts = {bound: total(after, "api_request_duration_seconds_bucket", endpoint=endpoint,
                           le=repr(float(bound)))
              - total(before, "api_request_duration_seconds_bucket", endpoint=endpoint,
                      le=repr(float(bound))) for bound in LATENCY_BUCKETS}
    assert max(counts.values()) == summary["requests"] == 500
    server_median = next(bound for bound in LATENCY_BUCKETS if counts[bound] >= 250)
    client_median = summary["latency_ms"]["p50"] / 1000
    index = LATENCY_BUCKETS.index(server_median)
    assert client_median <= LATENCY_BUCKETS[min(index + 1, len(LATENCY_BUCKETS) - 1)]
    assert client_median >= (LATENCY_BUCKETS[index - 1] if index else 0)


def test_the_errors_scenario_fails_requests_then_switches_the_fault_off(api, tmp_path):
    url, _, _ = api
    load_test(api, "--scenario", "errors", "--requests", "200", "--rps", "100",
              "--json", str(tmp_path / "summary.json"))
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert 0.3 < summary["statuses"]["500"] / summary["requests"] < 0.7
    assert requests.get(f"{url}/admin/faults", timeout=5,
                        headers={"Authorization": f"Bearer {TOKEN}"}).json() == {"faults": []}
    assert total(scraped(url), "api_fault_injected") == 0


def test_ctrl_c_prints_the_summary_and_switches_the_fault_off(api):
    url, _, env = api
    command = [sys.executable, str(REPO / "scripts" / "load_test.py"), "--url", url,
               "--no-progress", "--scenario", "slow", "--duration", "120"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        wait_until(lambda: total(scraped(url), "api_fault_injected", kind="latency") > 0,
                   "latency fault on", process=process)
        wait_until(lambda: total(scraped(url), "api_requests_total", status_code="200") > 0,
                   "slow requests answered")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "slow (interrupted):" in out
    assert total(scraped(url), "api_fault_injected") == 0
    assert "Traceback" not in err


def test_a_summary_that_cannot_be_written_is_found_before_any_traffic(api, tmp_path):
    url, _, _ = api
    before = traffic(scraped(url))
    (tmp_path / "summary.json").mkdir()
    result = load_test(api, "--scenario", "light", "--json", str(tmp_path / "summary.json"),
                       check=False)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.endswith(f"| ERROR    | {tmp_path}/summary.json is a folder; give the path of a file "
                         "to write")
    assert traffic(scraped(url)) == before


def test_a_host_elsewhere_is_refused():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "load_test.py"),
                             "--url", "http://192.0.2.1:8000"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert "http://192.0.2.1:8000 is not on this machine; pass --allow-remote" in result.stderr


def test_no_fault_switch_is_one_line_and_no_traffic(scored_project, tmp_path):
    shutil.copytree(scored_project, tmp_path, dirs_exist_ok=True)
    port = free_port()
    env = env_for(tmp_path, CHURN_ADMIN_TOKEN=TOKEN)  # no CHURN_DEMO_FAULTS
    command = [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(port)]
    with running(command, env, tmp_path / "serve.out") as process:
        url = f"http://127.0.0.1:{port}"
        wait_until(answers(f"{url}/ready"), "API ready", process=process)
        result = load_test((url, tmp_path, env), "--scenario", "slow", check=False)
        assert total(scraped(url), "api_requests_total", endpoint="/churn/{customer_id}") == 0
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert "the API has no demo fault switch: start it with CHURN_DEMO_FAULTS=true" in line
    assert "Traceback" not in result.stderr
