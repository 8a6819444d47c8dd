"""The Compose stack in real containers: the repository's docker-compose.yml and Dockerfile, unchanged.

`make test-containers` runs this file alone (five to eight minutes). It needs the docker CLI with
Compose v2, a Docker engine (started here as root when none runs, and stopped afterwards) and,
for the pinned images that are not present and cannot be pulled, mmdebstrap to build stand-ins
(tests/containers/standins.py). Without them it skips, saying why; under CI=true it fails.

Every service but Grafana runs (no package anywhere stands in for it); its provisioning is
checked as files by tests/contract/test_grafana.py, and the query of every one of its panels runs
here against the containers' Prometheus. The project has a name of its own, so its containers,
network and volumes never touch a student's `churn-monitoring` stack.
"""

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

import pytest
import requests
import yaml

from churn.ops.native_stack import port_in_use, query, stop_process, wait_until
from tests.containers.standins import StandIns, docker
from tests.contract.dashboards import wait_for_every_panel
from tests.contract.test_readme import COMMANDS, run_bash
from tests.contract.tools import unavailable
from tests.helpers import REPO

pytestmark = pytest.mark.slow

PROJECT = "churn-monitoring-test"
NOT_STARTED = {"grafana"}
PUBLISHED = {"api": 8000, "prometheus": 9090, "pushgateway": 9091, "alertmanager": 9093,
             "alert-receiver": 9095, "blackbox": 9115}
SCRAPE_JOBS = {"api-churn", "pushgateway", "prometheus", "alertmanager", "blackbox"}
API, PROMETHEUS, RECEIVER = (f"http://127.0.0.1:{PUBLISHED[name]}" for name in
                             ("api", "prometheus", "alert-receiver"))
# The README's example customer: one of the default synthetic data's ids.
README_CUSTOMER = 15573833
DEFAULT_ROWS = 10_000


# Every `docker compose` command here, and the README's when run by these tests, act on this project.
COMPOSE_ENV = os.environ | {"COMPOSE_PROJECT_NAME": PROJECT,
                            "COMPOSE_FILE": str(REPO / "docker-compose.yml")}


def compose(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", "compose", *args], cwd=REPO, env=COMPOSE_ENV,
                            capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"docker compose {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


def engine_answers() -> bool:
    return docker("info", check=False, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[None]:
    """A Docker engine: the running one, or dockerd started here and stopped at the end."""
    if shutil.which("docker") is None:
        unavailable("the docker CLI is not installed")
    if docker("compose", "version", check=False).returncode != 0:
        unavailable("Docker Compose v2 (`docker compose`) is not installed")
    if engine_answers():
        yield
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        unavailable("no Docker engine is running, and this user cannot start dockerd")
    log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
    with log.open("wb") as sink:
        daemon = subprocess.Popen(["dockerd"], stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until(engine_answers, "dockerd ready", timeout=60, process=daemon, output=log)
        yield
    finally:
        stop_process(daemon, timeout=30)


@dataclass
class Stack:
    services: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def report(config: pytest.Config, line: str) -> None:
    """A line in pytest's own output, shown without -s: figures that the issue notes quote."""
    with config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        config.pluginmanager.get_plugin("terminalreporter").write_line(line)


def project_leftovers() -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={PROJECT}"
    return {kind: docker(*command, "--filter", label, "--quiet", check=False).stdout.split()
            for kind, command in {"containers": ("ps", "--all"), "volumes": ("volume", "ls"),
                                  "networks": ("network", "ls")}.items()}


def images_to_provide(config: dict, services: list[str]) -> list[str]:
    """The pinned images of the started services, and the base image of the Dockerfile."""
    built = {service["image"] for service in config["services"].values() if "build" in service}
    pinned = {config["services"][name]["image"] for name in services} - built
    bases = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)
    return sorted(pinned | set(bases))


@pytest.fixture(scope="module")
def stack(engine, tmp_path_factory, request) -> Iterator[Stack]:
    if busy := [port for port in PUBLISHED.values() if port_in_use(port)]:
        unavailable(f"ports {busy} are in use (is a churn-monitoring stack running?)")
    config = yaml.safe_load(compose("config").stdout)
    services = [name for name in config["services"] if name not in NOT_STARTED]
    built_image = config["services"]["bootstrap"]["image"]
    image_existed = docker("image", "inspect", built_image, check=False).returncode == 0
    standins = StandIns(tmp_path_factory.mktemp("standins"))
    started = Stack(services)
    try:
        standins.ensure(images_to_provide(config, services))
        started.timings |= {f"stand-in {name}": seconds for name, seconds in standins.timings.items()}
        for step, args in {"build": ("build",), "up --wait": ("up", "--wait", *services)}.items():
            begun = time.monotonic()
            compose(*args)
            started.timings[step] = time.monotonic() - begun
        yield started
    finally:
        begun = time.monotonic()
        compose("down", "--volumes", "--remove-orphans", check=False)
        started.timings["down --volumes"] = time.monotonic() - begun
        if not image_existed:
            docker("image", "rm", "--force", built_image, check=False)
        standins.remove()
        report(request.config, "\ncontainer test timings: " + ", ".join(
            f"{step} {seconds:.0f} s" for step, seconds in started.timings.items()))
    assert project_leftovers() == {"containers": [], "volumes": [], "networks": []}


def prometheus(promql: str) -> list[dict]:
    return query(PROMETHEUS, promql)


def wait_for(promql: str, timeout: float = 90) -> list[dict]:
    return wait_until(partial(prometheus, promql), f"query {promql!r}", timeout)


def exec_in(service: str, *command: str) -> subprocess.CompletedProcess:
    return compose("exec", "-T", service, *command, timeout=300)


@pytest.fixture(scope="module")
def traffic(stack) -> int:
    """The loadtest service's mixed traffic (known, unknown and invalid ids, /predict calls), a
    retraining and a second batch: something for every panel to show."""
    result = compose("run", "--rm", "-T", "loadtest", "--scenario", "mixed", "--requests", "300",
                     "--rps", "60", "--no-progress", "--json", "logs/loadtest.json")
    assert "mixed: 300 requests" in result.stdout, result.stdout + result.stderr
    (summary,) = json.loads(exec_in("api", "cat", "logs/loadtest.json").stdout)
    assert {"200", "404", "422"} <= set(summary["statuses"]) and "none" not in summary["statuses"]
    exec_in("api", "python", "scripts/generate_data.py", "--rows", "2000", "--seed", "7",
            "--first-id", "16000000", "--out", "data/new_customers.csv")
    exec_in("api", "python", "scripts/retrain.py", "--new-data", "data/new_customers.csv")
    # A second batch: the high-risk change against the previous one has something to compare.
    exec_in("api", "python", "scripts/predict_batch.py")
    return summary["requests"]


def test_bootstrap_completed_and_the_api_answers_the_readme_customer(stack):
    (bootstrap,) = [json.loads(line) for line in compose(
        "ps", "--all", "--format", "json", "bootstrap").stdout.splitlines() if line]
    assert (bootstrap["State"], bootstrap["ExitCode"]) == ("exited", 0), bootstrap
    answer = requests.get(f"{API}/churn/{README_CUSTOMER}", timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == README_CUSTOMER and body["source"] == "cache", body
    assert 0 <= body["churn_probability"] <= 1
    assert body["model_version"] == requests.get(f"{API}/model", timeout=10).json()["version"]


def test_every_target_is_up_and_pushed_series_keep_their_own_job(stack):
    up = wait_until(lambda: {series["metric"]["job"] for series in prometheus("up == 1")} == SCRAPE_JOBS,
                    "every scrape job up", timeout=90)
    assert up
    f2 = wait_for('model_f2_score{job="churn-training"}')
    assert 0.5 < float(f2[0]["value"][1]) < 1, f2
    rows = wait_for('churn_batch_rows_scored{job="churn-batch-prediction"}')
    assert [float(series["value"][1]) for series in rows] == [DEFAULT_ROWS], rows
    assert prometheus('{job="pushgateway", __name__=~"model_.*|churn_.*"}') == []


def test_the_blackbox_exporter_probes_the_api_as_a_user_would(stack):
    """Both probes pass, through the containers' network (http://api:8000/...)."""
    passing = wait_until(lambda: len(result := prometheus('probe_success{job="blackbox"} == 1')) == 2
                         and result, "both probes passing", timeout=90)
    assert {series["metric"]["instance"] for series in passing} == {
        "http://api:8000/ready", "http://api:8000/churn/15565701"}


def test_every_dashboard_panel_query_returns_data_after_traffic(stack, traffic):
    wait_for_every_panel(prometheus, timeout=120)


def test_every_runbook_link_answers_with_its_page(stack):
    rules = sorted((REPO / "monitoring" / "prometheus" / "rules").glob("*.rules.yml"))
    urls = {rule["annotations"]["runbook_url"] for path in rules
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule}
    assert len(urls) >= 10
    for url in sorted(urls):
        page = requests.get(url.replace("http://localhost:9095", RECEIVER), timeout=10)
        name = url.rsplit("/", 1)[1]
        assert page.status_code == 200, url
        assert page.text == (REPO / "tutorial" / "runbooks" / f"{name}.md").read_text(), url


def memory_by_service() -> dict[str, tuple[float, float]]:
    """Used and limit MiB of each running container of the project, from `docker stats`."""
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}

    def mib(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]?i?B)", text.strip()).groups()
        return float(number) * units[unit]

    names = compose("ps", "--format", "{{.Name}} {{.Service}}").stdout.split("\n")
    services = dict(line.split() for line in names if line)
    stats = docker("stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}", *services)
    usage = dict(line.split("|") for line in stats.stdout.splitlines())
    return {services[name]: tuple(mib(part) for part in text.split("/"))
            for name, text in usage.items()}


def test_memory_after_traffic_stays_well_within_each_limit(stack, traffic, request):
    memory = memory_by_service()
    report(request.config, "\nmemory after the test's traffic: " + ", ".join(
        f"{service} {used:.0f}/{limit:.0f} MiB" for service, (used, limit) in sorted(memory.items())))
    assert set(memory) == set(stack.services) - {"bootstrap"}
    for service, (used, limit) in memory.items():
        assert used < 0.8 * limit, f"{service} uses {used:.0f} MiB of its {limit:.0f} MiB limit"


def api_down_notifications() -> list[dict]:
    result = compose("exec", "-T", "alert-receiver", "cat", "logs/alerts.jsonl", check=False)
    return [notification for line in result.stdout.splitlines()
            if (notification := json.loads(line))["commonLabels"].get("alertname") == "ApiDown"]


def test_stopping_the_api_fires_api_down_into_the_receiver(stack):
    compose("stop", "api")
    try:
        wait_for('up{job="api-churn"} == 0', timeout=60)
        (notification, *_) = wait_until(api_down_notifications, "ApiDown delivered", timeout=240)
        assert notification["status"] == "firing" and notification["receiver"] == "critical"
        url = notification["alerts"][0]["annotations"]["runbook_url"]
        assert requests.get(url.replace("http://localhost:9095", RECEIVER), timeout=10).ok
    finally:
        compose("up", "--wait", "api")


def test_readme_docker_commands_run_as_written(stack, tmp_path):
    lifecycle = {"docker compose up --wait", "docker compose down", "docker compose down -v"}
    commands = [command for command in COMMANDS if command.startswith("docker compose")]
    assert lifecycle <= set(commands), "the README must start and stop the stack as this test does"
    # In a scratch folder: what the commands copy out of the volumes lands there, not in the repo.
    (tmp_path / "data").mkdir()
    for command in sorted(set(commands) - lifecycle):
        result = run_bash(command, tmp_path, COMPOSE_ENV)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
