"""The whole stack on loopback from the real binaries: targets, pushed groups, rules and an alert.

The stack is started once for the module with scrape and evaluation every second. Tests do not
depend on their order: each asks for the pushes and traffic it reads (module fixtures, made
once), and a component a test stopped is started again before the next test.
"""

import json
import re
import subprocess
import sys
import time

import pandas as pd
import pytest
import requests

from churn.data.synthetic import generate
from churn.ops.native_stack import NativeStack
from tests.contract.dashboards import wait_for_every_panel
from tests.helpers import REPO, customer_bodies
from tests.integration.processes import answers, native_stack, running

pytestmark = pytest.mark.slow
JOB_SCRIPTS = {"churn-training": "train.py", "churn-batch-prediction": "predict_batch.py"}
TOKEN = "native-stack-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PROBE_MODULES = {"http_ready", "http_churn_score"}


@pytest.fixture(scope="module")
def stack(scored_project, tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    native = native_stack(scored_project, root, CHURN_ADMIN_TOKEN=TOKEN, CHURN_DEMO_FAULTS="true")
    native.root = root
    (root / "scripts").symlink_to(REPO / "scripts")
    try:
        native.start_all()
        yield native
    finally:
        native.stop_all()


SCRAPE_JOBS = {"api-churn", "pushgateway", "prometheus", "alertmanager", "blackbox"}


def all_targets_up(stack: NativeStack) -> list[dict]:
    up = stack.query("up == 1")
    return up if {series["metric"]["job"] for series in up} == SCRAPE_JOBS else []


@pytest.fixture(autouse=True)
def everything_running(stack):
    """Whatever an earlier test stopped runs again, and has been scraped since, so no test depends
    on the one before it (a restarted Pushgateway's groups are back once Prometheus scrapes it)."""
    if stack.restart_stopped():
        stack.wait_until(lambda: all_targets_up(stack), "every target scraped again")


def job(stack: NativeStack, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], env=stack.env,
                          capture_output=True, text=True, timeout=300, check=False)


def pushed_since(stack: NativeStack, job_name: str, started: float) -> bool:
    """This run's push of `job_name` reached Prometheus (not an older group of the same name)."""
    times = stack.query(f'push_time_seconds{{job="{job_name}", instance=""}}')
    return bool(times) and float(times[0]["value"][1]) >= started


@pytest.fixture(scope="module")
def pushed(stack) -> dict[str, float]:
    """Training then batch prediction, each waited for until Prometheus holds its own push."""
    pushed_at = {}
    for job_name, script in JOB_SCRIPTS.items():
        started = time.time()
        result = job(stack, script)
        assert result.returncode == 0, f"{script} failed:\n{result.stderr}"
        assert "could not push" not in result.stderr, f"{script} did not push:\n{result.stderr}"
        stack.wait_until(lambda job_name=job_name, started=started:
                         pushed_since(stack, job_name, started), f"{job_name} push scraped")
        pushed_at[job_name] = started
    return pushed_at


@pytest.fixture(scope="module")
def traffic(stack) -> int:
    """50 known customers and one unknown, through /churn/{customer_id}; returns the 200s sent."""
    ids = pd.read_csv(stack.root / "data" / "predictions.csv")["CustomerId"].head(50)
    for customer_id in ids:
        assert requests.get(f"{stack.url('api')}/churn/{customer_id}", timeout=5).ok
    assert requests.get(f"{stack.url('api')}/churn/1", timeout=5).status_code == 404
    return len(ids)


def test_every_target_is_up_and_every_probe_passes(stack):
    # One target per job, but one per probe for the blackbox exporter, whose two targets are
    # scraped each in its turn: waited for until both are.
    expected = len(SCRAPE_JOBS) - 1 + len(PROBE_MODULES)
    up = stack.wait_until(lambda: len(found := all_targets_up(stack)) == expected and found,
                          "every scrape target up")
    assert len(up) == expected, up
    passing = stack.wait_for('probe_success{job="blackbox"} == 1')
    assert {series["metric"]["module"] for series in passing} == PROBE_MODULES, passing
    api = stack.url("api")
    assert {series["metric"]["instance"] for series in passing} == {
        f"{api}/ready", f"{api}/churn/15565701"}


def test_pushed_series_keep_their_own_job(stack, pushed):
    f2 = stack.query('model_f2_score{job="churn-training"}')
    assert 0.5 < float(f2[0]["value"][1]) < 1, f2
    rows = stack.query('churn_batch_rows_scored{job="churn-batch-prediction"}')
    customers = len(pd.read_csv(stack.root / "data" / "customers.csv"))
    assert [float(series["value"][1]) for series in rows] == [customers], (rows, customers)
    levels = stack.query('churn_predictions_by_level{job="churn-batch-prediction"}')
    assert {series["metric"]["level"] for series in levels} == {"low", "medium", "high"}, levels
    # honor_labels: nothing a job pushed is relabelled with the scrape job's name.
    relabelled = stack.query('{job="pushgateway", __name__=~"model_.*|churn_.*"}')
    assert relabelled == [], relabelled
    # Two pushes, two groups: the batch push did not wipe the training one.
    assert stack.query('model_version_info{job="churn-training"}'), "the training group is gone"


def test_recording_rules_return_data_after_traffic(stack, traffic):
    rate = stack.wait_for('endpoint:api_requests:rate5m{endpoint="/churn/{customer_id}"} > 0')
    assert rate[0]["metric"]["job"] == "api-churn"
    assert stack.wait_for("job:api_requests:rate5m > 0")
    for quantile in ("p50", "p95", "p99"):
        latency = stack.wait_for(
            f'endpoint:api_request_duration_seconds:{quantile}_rate5m{{endpoint="/churn/{{customer_id}}"}}')
        assert 0 < float(latency[0]["value"][1]) <= 5
    # Between 0 and 1 (promtool's tests check the arithmetic): the probe tests below cause 5xx.
    ratio = stack.wait_for("job:api_requests_5xx:ratio_rate5m")
    assert 0 <= float(ratio[0]["value"][1]) < 1


def test_a_job_without_pushgateway_keeps_its_results(stack):
    stack.stop("pushgateway")
    textfile = stack.root / "data" / "predictions.prom"
    before = textfile.stat().st_mtime_ns
    result = job(stack, "predict_batch.py")
    assert result.returncode == 0
    assert result.stderr.count("could not push") == 1
    assert stack.url("pushgateway") in result.stderr
    assert textfile.stat().st_mtime_ns > before


def test_runbook_re_push_of_a_kept_metrics_file_works_as_written(stack, pushed):
    runbook = (REPO / "tutorial" / "runbooks" / "pushgateway-down.md").read_text()
    (command,) = [text for text in re.findall(r"`([^`]+)`", runbook) if text.startswith("curl --data-binary")]
    local = command.replace("localhost:9091", stack.url("pushgateway").removeprefix("http://"))
    result = subprocess.run(["bash", "-c", local], cwd=stack.root, capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    pushed = requests.get(f"{stack.url('pushgateway')}/metrics", timeout=5).text
    assert 'churn_batch_rows_scored{instance="",job="churn-batch-prediction"}' in pushed


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_export_writes_the_catalogue_over_a_range(stack, pushed, traffic, suffix):
    out = stack.root / f"export{suffix}"
    env = stack.env
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "export_metrics.py"), "--since", "5m",
                             "--step", "5s", "--out", str(out)], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if suffix == ".csv":
        frame = pd.read_csv(out)
        assert list(frame.columns) == ["timestamp", "metric", "labels", "value"]
        assert {"api_requests_total", "model_f2_score", "churn_batch_rows_scored"} <= set(frame["metric"])
        churn = frame[(frame["metric"] == "api_requests_total")
                      & frame["labels"].str.contains("endpoint=/churn/{customer_id}", regex=False)
                      & frame["labels"].str.contains("status_code=200")]
        assert churn["value"].max() >= traffic
    else:
        assert json.loads(text)[0].keys() == {"timestamp", "metric", "labels", "value"}


def test_readme_monitoring_commands_run_as_written(stack, pushed, traffic):
    from tests.contract.test_readme import COMMANDS, needs_stack, run_bash

    commands = [command for command in COMMANDS if needs_stack(command)]
    assert len(commands) >= 3
    for command in commands:
        local = command.replace("localhost:9090", stack.url("prometheus").removeprefix("http://"))
        result = run_bash(local.replace(".venv/bin/python", sys.executable, 1), stack.root, stack.env)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        if command.startswith("curl "):
            body = json.loads(result.stdout)
            assert body["status"] == "success" and body["data"]["result"], command


def drift_bodies(seed: int, rows: int, drift: bool) -> list[dict]:
    return customer_bodies(generate(rows, seed=seed, drift=drift))


def test_drifted_traffic_raises_the_flag_fires_the_alert_and_normal_traffic_clears_it(stack):
    predict = f"{stack.url('api')}/predict/batch"
    for chunk in range(3):
        body = {"customers": drift_bodies(40 + chunk, 400, drift=True)}
        assert requests.post(predict, json=body, timeout=30).ok
    stack.wait_for('churn_data_drift_detected{job="api-churn"} == 1', timeout=30)
    age = stack.query('churn_feature_drift_psi{job="api-churn", feature="Age"}')
    assert float(age[0]["value"][1]) > 0.25
    firing = stack.wait_for('ALERTS{alertname="DataDriftDetected", alertstate="firing"}', timeout=200)
    assert firing[0]["metric"]["severity"] == "warning"

    for chunk in range(3):
        body = {"customers": drift_bodies(50 + chunk, 400, drift=False)}
        assert requests.post(predict, json=body, timeout=30).ok
    stack.wait_for('churn_data_drift_detected{job="api-churn"} == 0', timeout=30)


def notifications(stack: NativeStack, alertname: str) -> list[dict]:
    """The notifications of `alertname` that the receiver appended to logs/alerts.jsonl."""
    alerts_file = stack.root / "logs" / "alerts.jsonl"
    if not alerts_file.is_file():
        return []
    return [notification for line in alerts_file.read_text().splitlines()
            if (notification := json.loads(line))["commonLabels"].get("alertname") == alertname]


def test_api_down_reaches_the_receiver_from_white_box_and_black_box(stack):
    """ApiDown (Prometheus cannot scrape /metrics) after 1 minute, ApiProbeFailing (a request like
    a user's gets no answer) after 2, each with its runbook."""
    stack.stop("api")
    down = stack.wait_for('up{job="api-churn"} == 0', timeout=30)
    assert down[0]["metric"]["instance"] == f"127.0.0.1:{stack.ports['api']}"
    (notification, *_) = stack.wait_until(lambda: notifications(stack, "ApiDown"), "ApiDown delivered",
                                          timeout=150)
    assert notification["status"] == "firing" and notification["receiver"] == "critical"
    runbook_url = notification["alerts"][0]["annotations"]["runbook_url"]
    assert runbook_url == "http://localhost:9095/runbooks/api-down"
    runbook = requests.get(runbook_url.replace("http://localhost:9095", stack.url("receiver")), timeout=5)
    assert runbook.status_code == 200 and runbook.text.startswith("# "), runbook.text[:200]

    def failing_modules() -> set[str]:
        modules = {alert["labels"]["module"] for notification in notifications(stack, "ApiProbeFailing")
                   for alert in notification["alerts"] if alert["status"] == "firing"}
        return modules if modules == PROBE_MODULES else set()

    stack.wait_until(failing_modules, "ApiProbeFailing delivered for both probes", timeout=200)
    (probe_alert, *_) = notifications(stack, "ApiProbeFailing")
    assert probe_alert["receiver"] == "critical"
    assert probe_alert["alerts"][0]["annotations"]["runbook_url"] == \
        "http://localhost:9095/runbooks/api-probe-failing"


def test_every_dashboard_panel_query_returns_data_once_every_job_ran(stack, pushed, traffic):
    new_customers = stack.root / "data" / "new_customers.csv"
    for script, *args in (("generate_data.py", "--rows", "1000", "--seed", "9", "--first-id", "17000000",
                           "--out", str(new_customers)),
                          ("retrain.py", "--new-data", str(new_customers)),
                          ("predict_batch.py",)):
        result = job(stack, script, *args)
        assert result.returncode == 0, f"{script} failed:\n{result.stderr}"
    body = customer_bodies(generate(5, seed=31))
    assert requests.post(f"{stack.url('api')}/predict/batch", json={"customers": body}, timeout=30).ok
    wait_for_every_panel(stack.query, timeout=60)


def test_a_requests_exemplar_leads_from_prometheus_to_its_log_line(stack):
    """The request id sent as X-Request-ID is stored by Prometheus as the exemplar of the latency
    bucket the request fell in and of the prediction it counted, and finds the request's line in
    logs/api.log. A bucket keeps its latest request's id, so the request is a POST /predict: the
    probes, which look a customer up every second here, never replace it."""
    request_id = f"exemplar-{time.time_ns()}"
    (body,) = customer_bodies(generate(1, seed=77))
    answer = requests.post(f"{stack.url('api')}/predict", json=body, timeout=5,
                           headers={"X-Request-ID": request_id})
    assert answer.ok and answer.headers["x-request-id"] == request_id

    def exemplar_ids(series: str) -> set[str]:
        found = requests.get(f"{stack.url('prometheus')}/api/v1/query_exemplars", timeout=5, params={
            "query": series, "start": time.time() - 300, "end": time.time() + 60}).json()["data"]
        return {exemplar["labels"]["request_id"] for series in found for exemplar in series["exemplars"]}

    for series in ('api_request_duration_seconds_bucket{endpoint="/predict"}',
                   'model_predictions_total{source="model"}'):
        stack.wait_until(lambda series=series: request_id in exemplar_ids(series),
                         f"the request's exemplar of {series} stored")
    (line,) = [line for line in (stack.root / "logs" / "api.log").read_text().splitlines()
               if request_id in line]
    assert "POST /predict 200" in line


def white_box_up_while_probe_fails(module: str) -> str:
    """PromQL answering only while Prometheus scrapes the API fine and the `module` probe fails."""
    return (f'probe_success{{job="blackbox", module="{module}"}} == 0'
            ' and on () (up{job="api-churn"} == 1)')


def test_white_box_says_up_while_users_get_errors(stack):
    """The demo fault switch answers every /churn request 500: /metrics still answers, so up is 1,
    but the probe that asks for a customer's score fails. Only the black-box view sees it."""
    faults = f"{stack.url('api')}/admin/faults"
    switch = requests.post(faults, json={"error_share": 1, "minutes": 5}, headers=ADMIN, timeout=5)
    assert switch.ok, switch.text
    try:
        stack.wait_for(white_box_up_while_probe_fails("http_churn_score"), timeout=30)
        assert stack.query('probe_success{job="blackbox", module="http_ready"} == 1')
    finally:
        off = requests.post(faults, json={"error_share": 0}, headers=ADMIN, timeout=5)
        assert off.json() == {"faults": []}
    stack.wait_for('probe_success{job="blackbox", module="http_churn_score"} == 1', timeout=30)


def test_white_box_says_up_while_the_service_is_not_ready(stack):
    """An API started without its predictions (CHURN_API_START_UNREADY) serves /metrics, so up is
    1, but /ready is a 503 and so is every lookup: both probes fail."""
    stack.stop("api")
    api = stack.url("api")
    env = stack.env | {"CHURN_API_START_UNREADY": "true",
                       "CHURN_PREDICTIONS_PATH": str(stack.root / "data" / "missing.csv")}
    with running(stack.command("api"), env, stack.workdir / "api-unready.out"):
        stack.wait_until(answers(f"{api}/ready", status=503), "the API answering, not ready")
        for module in PROBE_MODULES:
            stack.wait_for(white_box_up_while_probe_fails(module), timeout=30)
