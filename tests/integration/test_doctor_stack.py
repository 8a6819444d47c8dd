"""scripts/doctor.py as a student runs it, against the real native stack on free ports (its URLs in
CHURN_*_URL): all ok on a healthy stack, then the warning or failure each broken part deserves.

Grafana cannot run here (it has no package): where its datasource check is tested, a small local
HTTP server stands in for the two endpoints the doctor calls, /api/health and the datasource's
health, and answers the latter as Grafana does, by asking the stack's Prometheus for 1+1.
"""

import base64
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from churn.metrics import JOB_TRAINING, training_registry
from churn.model.registry import latest_version, load_model, promote, read_metadata, save_model
from churn.ops.native_stack import NativeStack
from churn.publishing import publish
from tests.helpers import REPO, settings_for
from tests.integration.processes import free_port, native_stack

pytestmark = pytest.mark.slow
# The Compose default, so the reload command the doctor prints runs as printed.
TOKEN = "churn-demo"
SCRAPE_TARGETS = 6  # one per job, and two for the blackbox exporter's probes
STACK_CHECKS = ("api", "containers", "targets", "honor_labels", "pushed groups", "served model", "grafana")


@pytest.fixture(scope="module")
def stack(scored_project, tmp_path_factory) -> Iterator[NativeStack]:
    root = tmp_path_factory.mktemp("doctor-stack")
    native = native_stack(scored_project, root, CHURN_ADMIN_TOKEN=TOKEN)
    native.root = root
    try:
        native.start_all()
        yield native
    finally:
        native.stop_all()


def every_target_up(stack: NativeStack) -> bool:
    return len(stack.query("up == 1")) == SCRAPE_TARGETS


@pytest.fixture(scope="module")
def pushed(stack) -> None:
    """Training's group for the served model, pushed by the code train.py pushes with, and a real
    batch run; both scraped, so honor_labels is checked on real series."""
    settings = settings_for(stack.root, pushgateway_url=stack.url("pushgateway"))
    metadata = read_metadata(settings.models_dir, latest_version(settings.models_dir))
    assert publish(JOB_TRAINING, training_registry(metadata), settings, stack.root / "training.prom")
    batch = subprocess.run([sys.executable, str(REPO / "scripts" / "predict_batch.py")], env=stack.env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert batch.returncode == 0, batch.stderr
    for job in (JOB_TRAINING, "churn-batch-prediction"):
        stack.wait_for(f'push_time_seconds{{job="{job}"}}')


@pytest.fixture(autouse=True)
def everything_running(stack, pushed):
    """Whatever an earlier test stopped runs again, and every target has been scraped since."""
    stack.restart_stopped()
    stack.wait_until(lambda: every_target_up(stack), "every target up")


def doctor(stack: NativeStack, *args: str, grafana: str | None = None) -> subprocess.CompletedProcess:
    env = stack.env | {"CHURN_API_URL": stack.url("api"),
                       "CHURN_ALERTMANAGER_URL": stack.url("alertmanager"),
                       "CHURN_GRAFANA_URL": grafana or f"http://127.0.0.1:{free_port()}"}
    return subprocess.run([sys.executable, str(REPO / "scripts" / "doctor.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def findings(output: str, section: str = "stack") -> dict[str, tuple[str, str]]:
    """{check name: (status, the line and its fix lines)} of one section of the report."""
    block = output.split(f"\n{section}\n", 1)[1].split("\n\n", 1)[0]
    found: dict[str, tuple[str, str]] = {}
    for line in block.splitlines():
        if line.startswith("["):
            name, current = line[7:21].strip(), line[1:5].strip()
            found[name] = (current, found.get(name, ("", ""))[1] + line + "\n")
        else:
            found[name] = (found[name][0], found[name][1] + line + "\n")
    return found


def statuses(output: str) -> dict[str, str]:
    return {name: status for name, (status, _) in findings(output).items()}


@pytest.fixture
def grafana_stand_in(stack) -> Iterator[str]:
    prometheus, login = stack.url("prometheus"), "Basic " + base64.b64encode(b"admin:admin").decode()

    class Grafana(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/api/health":
                self.answer(200, {"database": "ok", "version": "12.2.0"})
            elif self.path != "/api/datasources/uid/prometheus/health":
                self.answer(404, {"message": "Not found"})
            elif self.headers.get("Authorization") != login:
                self.answer(401, {"message": "Invalid username or password"})
            else:
                asked = requests.get(f"{prometheus}/api/v1/query", params={"query": "1+1"}, timeout=2)
                self.answer(200, {"status": "OK", "message": "Successfully queried the Prometheus API."}
                            if asked.ok else {"status": "ERROR", "message": asked.text})

        def answer(self, status: int, body: dict) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Grafana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_healthy_stack_is_all_ok_but_grafana_and_exits_0(stack):
    started = time.monotonic()
    result = doctor(stack)
    assert result.returncode == 0, result.stdout
    assert time.monotonic() - started < 20, "the doctor should take a few seconds"
    assert "Traceback" not in result.stdout + result.stderr
    found = statuses(result.stdout)
    assert tuple(found) == STACK_CHECKS, result.stdout
    assert found.pop("containers") in ("ok", "skip")  # skip without Docker, or without Compose running
    assert found == {"api": "ok", "targets": "ok", "honor_labels": "ok", "pushed groups": "ok",
                     "served model": "ok", "grafana": "warn"}, result.stdout
    assert "it runs only in the Compose stack" in findings(result.stdout)["grafana"][1]


def test_grafana_and_its_prometheus_datasource_are_ok(stack, grafana_stand_in):
    result = doctor(stack, "--only", "stack", grafana=grafana_stand_in)
    assert result.returncode == 0, result.stdout
    status, text = findings(result.stdout)["grafana"]
    assert status == "ok" and "datasource uid prometheus healthy" in text


def test_pushed_groups_older_than_stale_after_are_warnings_with_their_fix(stack):
    def stale_warnings() -> str | None:
        result = doctor(stack, "--only", "stack", "--stale-after", "1s")
        lines = [line for line in result.stdout.splitlines() if line.startswith("[warn] pushed groups")]
        return result.stdout if result.returncode == 0 and len(lines) == 2 else None

    output = stack.wait_until(stale_warnings, "both groups reported stale", timeout=30)
    pushgateway = stack.url("pushgateway").removeprefix("http://")
    python = Path(sys.executable)
    python = python.relative_to(REPO) if python.is_relative_to(REPO) else python
    for job, script in ((JOB_TRAINING, "train.py"), ("churn-batch-prediction", "predict_batch.py")):
        assert f"[warn] pushed groups  {job} was pushed " in output
        assert f"re-run the job: {python} scripts/{script}" in output
        assert f"or delete the group: curl -X DELETE {pushgateway}/metrics/job/{job}" in output


def register_new_version(stack: NativeStack) -> str:
    """What a training run does once its model is fitted: saves a new version, points latest at it
    and pushes its gauges. The pipeline is the served one again, which saves a minute of fitting."""
    settings = settings_for(stack.root, pushgateway_url=stack.url("pushgateway"))
    served = load_model(settings.models_dir)
    kept = {key: value for key, value in served.metadata.items()
            if key not in ("version", "artifact", "library_versions")}
    version = save_model(settings.models_dir, served.pipeline, kept)
    promote(settings.models_dir, version)
    assert publish(JOB_TRAINING, training_registry(read_metadata(settings.models_dir, version)), settings,
                   stack.root / "training.prom")
    return version


def test_a_model_trained_but_not_reloaded_is_a_warning_whose_fix_works(stack):
    served = requests.get(f"{stack.url('api')}/model", timeout=5).json()["version"]
    trained = register_new_version(stack)
    result = doctor(stack, "--only", "stack")
    assert result.returncode == 0, result.stdout
    status, text = findings(result.stdout)["served model"]
    assert status == "warn", result.stdout
    assert f"the API serves {served}, but training registered {trained} last" in text
    (reload,) = re.findall(r"load the latest: (curl .*)", text)
    assert reload == (f"curl -X POST -H 'Authorization: Bearer {TOKEN}' "
                      f"{stack.url('api').removeprefix('http://')}/admin/reload")
    ran = subprocess.run(["bash", "-c", reload], capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0 and json.loads(ran.stdout)["model_version"] == trained, ran.stdout
    assert statuses(doctor(stack, "--only", "stack").stdout)["served model"] == "ok"


def test_a_target_down_fails_naming_it_and_its_last_error(stack):
    stack.stop("alertmanager")
    stack.wait_for('up{job="alertmanager"} == 0', timeout=30)
    result = doctor(stack, "--only", "stack")
    assert result.returncode == 1
    status, text = findings(result.stdout)["targets"]
    assert status == "FAIL"
    assert f"down: alertmanager 127.0.0.1:{stack.ports['alertmanager']}: " in text
    assert "connection refused" in text
    assert "docker compose up --wait alertmanager" in text


def test_help_describes_every_section():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "doctor.py"), "--help"],
                            capture_output=True, text=True, timeout=60, check=True)
    for words in ("machine", "project", "stack", "Exits 0 when nothing", "--stale-after"):
        assert words in result.stdout


def test_a_broken_venv_is_one_fail_line_not_a_traceback():
    """requests made unimportable, as in a venv that lost a package."""
    code = ("import runpy, sys; sys.modules['requests'] = None; "
            f"runpy.run_path({str(REPO / 'scripts' / 'doctor.py')!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("[FAIL] python         cannot import the project")
    assert "make setup" in result.stderr and "Traceback" not in result.stderr
