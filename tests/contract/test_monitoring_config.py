"""monitoring/ as the containers and the native stack read it: valid, tested, and within DESIGN.md."""

import re
import subprocess

import pytest
import yaml

from churn.data.synthetic import FIRST_CUSTOMER_ID
from churn.metrics import LATENCY_BUCKETS
from tests.contract.tools import require
from tests.helpers import REPO

PROMETHEUS = REPO / "monitoring" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.rules.yml"))
ALERTMANAGER = REPO / "monitoring" / "alertmanager" / "alertmanager.yml"
BLACKBOX = REPO / "monitoring" / "blackbox" / "blackbox.yml"
RUNBOOK_BASE = "http://localhost:9095/runbooks/"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROMETHEUS)


def alerts() -> list[dict]:
    return [rule for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_config_and_every_rule_file():
    promtool = require("promtool")
    result = run(promtool, "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rule files found" in result.stdout


@pytest.mark.parametrize("rules", RULES, ids=lambda path: path.name)
def test_each_rule_file_passes_its_promtool_tests(rules):
    promtool = require("promtool")
    tests = rules.with_name(rules.name.replace(".rules.yml", ".test.yml"))
    assert tests.is_file(), f"{rules.name} has no sibling {tests.name}"
    result = run(promtool, "test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet():
    cases: dict[str, set[str]] = {}
    for path in (PROMETHEUS / "rules").glob("*.test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], set()).add("fires" if case["exp_alerts"] else "quiet")
    for alert in alerts():
        assert cases.get(alert["alert"]) == {"fires", "quiet"}, alert["alert"]


def test_every_alert_has_duration_severity_and_annotations():
    for alert in alerts():
        assert "for" in alert, alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        assert alert["labels"]["component"], alert["alert"]
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"]), alert["alert"]
        # Opens offline in the student's browser: the alert receiver serves tutorial/runbooks/.
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_BASE), alert["alert"]
        assert (REPO / "tutorial" / "runbooks" / f"{url.removeprefix(RUNBOOK_BASE)}.md").is_file(), url


def test_scrape_jobs_and_targets_are_designs():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"api-churn", "pushgateway", "prometheus", "alertmanager", "blackbox"}
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["api-churn"]["static_configs"][0]["targets"] == ["api:8000"]
    assert jobs["blackbox"]["relabel_configs"][-1] == {"target_label": "__address__",
                                                       "replacement": "blackbox:9115"}
    intervals = [job.get("scrape_interval", config["global"]["scrape_interval"]) for job in jobs.values()]
    assert all(10 <= int(interval.rstrip("s")) <= 15 for interval in intervals)


def test_rules_stay_in_the_subset_prometheus_2_and_3_share():
    text = (PROMETHEUS / "prometheus.yml").read_text()
    assert "scrape_protocols" not in text
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            assert not {"labels", "query_offset"} & set(group), path.name
    # Range windows at least twice the longest scrape interval (15 s).
    windows = re.findall(r"\[(\d+)([smh])\]", "".join(path.read_text() for path in RULES))
    seconds = {"s": 1, "m": 60, "h": 3600}
    assert windows and all(int(n) * seconds[unit] >= 30 for n, unit in windows)


def test_latency_thresholds_are_bucket_boundaries():
    for alert in alerts():
        if "api_request_duration_seconds" in alert["expr"]:
            threshold = float(alert["expr"].rsplit(">", 1)[1])
            assert threshold in LATENCY_BUCKETS, alert["alert"]


def test_amtool_accepts_the_alertmanager_config():
    amtool = require("amtool")
    result = run(amtool, "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_routes_by_severity_to_the_offline_receiver():
    config = yaml.safe_load(ALERTMANAGER.read_text())
    routes = {route["matchers"][0]: route["receiver"] for route in config["route"]["routes"]}
    assert routes == {'severity="critical"': "critical", 'severity="warning"': "warning"}
    urls = {hook["url"] for receiver in config["receivers"] for hook in receiver["webhook_configs"]}
    assert urls == {"http://alert-receiver:9095/alerts"}


def probes() -> dict[str, str]:
    """The blackbox job's targets: module -> URL."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "blackbox"]
    return {static["labels"]["module"]: target for static in job["static_configs"]
            for target in static["targets"]}


def test_every_probe_names_a_module_of_the_blackbox_config_and_the_api():
    modules = yaml.safe_load(BLACKBOX.read_text())["modules"]
    assert probes() == {"http_ready": "http://api:8000/ready",
                        "http_churn_score": f"http://api:8000/churn/{FIRST_CUSTOMER_ID}"}
    assert set(modules) == set(probes())
    for module in modules.values():
        assert module["http"]["headers"] == {"X-Churn-Probe": "blackbox"}


@pytest.mark.parametrize(("body", "passes"), [
    ('{"customer_id":1,"churn_probability":0.4183,"risk_level":"medium"}', True),
    ('{"churn_probability":1.2e-05,"risk_level":"low"}', True),
    ('{"churn_probability": 1}', True),
    ('{"churn_probability":null}', False),
    ('{"churn_probability":"0.5"}', False),
    ('{"detail":"customer 15565701 not found"}', False),
    ("churn_probability: 0.4", False),
])
def test_the_score_probe_passes_only_a_body_with_a_probability(body, passes):
    """The same regular expression as the exporter's (Go's RE2 and Python's agree on this one)."""
    (pattern,) = yaml.safe_load(BLACKBOX.read_text())["modules"]["http_churn_score"]["http"][
        "fail_if_body_not_matches_regexp"]
    assert bool(re.search(pattern, body)) is passes


def test_the_blackbox_exporter_accepts_its_config():
    exporter = require("prometheus-blackbox-exporter")
    result = run(exporter, f"--config.file={BLACKBOX}", "--config.check")
    assert result.returncode == 0, result.stdout + result.stderr
