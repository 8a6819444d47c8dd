"""The doctor's checks on real sockets, real files and real programs.

Servers are small local HTTP servers: one plays a stranger on a port, one stands in for Grafana's
two endpoints (Grafana has no package here). Docker cannot run here either: a few tests put a
stand-in `docker` or `docker-compose` script first on PATH, which the doctor runs as it runs the
real CLI. The running stack is tests/integration/test_doctor_stack.py's.
"""

import base64
import io
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest

from churn.model.registry import PINNED_LIBRARIES
from churn.ops import doctor
from churn.ops.doctor import Context, Finding
from churn.ops.native_stack import DEFAULT_PORTS
from tests.helpers import REPO, settings_for
from tests.integration.processes import free_port

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in CLIs are shell scripts")


def nowhere() -> dict[str, int]:
    """Ports for the receiver and the blackbox exporter where nothing listens (the development
    stack of this machine may hold the real ones)."""
    return {name: free_port() for name in DEFAULT_PORTS}


def context_for(tmp_path: Path, **overrides) -> Context:
    """A context whose every URL is a free port unless overridden."""
    urls = {key: f"http://127.0.0.1:{free_port()}" for key in
            ("api_url", "prometheus_url", "pushgateway_url", "alertmanager_url", "grafana_url")}
    return Context(settings_for(tmp_path, **urls | overrides), ports=nowhere())


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], tuple[int, str]]], str]]:
    """Starts a local HTTP server whose GET answers are `answer(request) -> (status, body)`."""
    servers = []

    def start(answer: Callable[[BaseHTTPRequestHandler], tuple[int, str]]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = answer(self)
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body.startswith("{")
                                 else "text/plain")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def report_of(context: Context, *sections: str) -> tuple[int, str]:
    out = io.StringIO()
    return doctor.report(context, sections, out), out.getvalue()


# --- ports ------------------------------------------------------------------------------------------

def test_a_free_port_is_ok(tmp_path):
    context = context_for(tmp_path)
    api = context.components["api"]
    finding = doctor.check_port(api, context.probes["api"])
    assert (finding.status, finding.name, finding.found) == ("ok", f"port {api.port}", "free (for the API)")


def test_a_port_held_by_another_http_server_fails_with_how_to_find_and_move_it(tmp_path, serve):
    url = serve(lambda request: (404, "<h1>Not Found</h1>"))
    context = context_for(tmp_path, api_url=url)
    port = context.components["api"].port
    finding = doctor.check_port(context.components["api"], context.probes["api"])
    assert finding.status == "FAIL"
    assert "held by another program, not the API: GET /health answered 404" in finding.found
    fix = "\n".join(finding.fix)
    assert f"ss -ltnp 'sport = :{port}'" in fix and f"lsof -i :{port}" in fix
    assert f"export CHURN_API_URL=http://localhost:{port + 10000}" in fix
    assert f"make run PORT={port + 10000}" in fix
    assert "tutorial/TROUBLESHOOTING.md" in fix


def test_a_port_held_by_a_program_that_does_not_speak_http_fails(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def hang_up() -> None:
            connection, _ = listener.accept()
            connection.close()

        threading.Thread(target=hang_up, daemon=True).start()
        context = context_for(tmp_path, prometheus_url=f"http://127.0.0.1:{port}")
        finding = doctor.check_port(context.components["prometheus"], context.probes["prometheus"])
    assert finding.status == "FAIL"
    assert "does not answer HTTP" in finding.found
    assert "CHURN_PROMETHEUS_URL" in "\n".join(finding.fix)


def test_a_port_held_by_the_component_itself_is_ours(tmp_path, serve):
    url = serve(lambda request: (200, "OK") if request.path == "/-/ready" else (404, ""))
    context = context_for(tmp_path, pushgateway_url=url)
    finding = doctor.check_port(context.components["pushgateway"], context.probes["pushgateway"])
    assert (finding.status, finding.found) == ("ok", "the Pushgateway of this stack")


def test_a_foreign_port_fails_the_whole_report(tmp_path, serve):
    url = serve(lambda request: (200, "hello"))
    code, text = report_of(context_for(tmp_path, grafana_url=url), "machine")
    assert code == 1
    assert "[FAIL] port " in text and "not Grafana" in text


# --- the project ------------------------------------------------------------------------------------

def write_model(models: Path, version: str = "20260101-000000", libraries: dict | None = None) -> Path:
    """A model version folder as the registry writes it (an artifact that is not a real pickle:
    the doctor never unpickles) and `latest` pointing at it."""
    folder = models / version
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"not read by the doctor")
    recorded = {library: installed_version(library) for library in PINNED_LIBRARIES} | (libraries or {})
    (folder / "metadata.json").write_text(json.dumps({
        "version": version, "algorithm": "hist_gradient_boosting", "trained_at": "2026-01-01T00:00:00",
        "artifact": {"file": "model.joblib"}, "library_versions": recorded}))
    (models / "latest").write_text(version + "\n")
    return folder


def complete_project(tmp_path: Path) -> Context:
    context = context_for(tmp_path)
    settings = context.settings
    settings.data_path.parent.mkdir(parents=True)
    settings.data_path.write_text("CustomerId,Exited\n1,0\n")
    write_model(settings.models_dir)
    settings.predictions_path.write_text("CustomerId,churn_probability\n1,0.1\n")
    return context


def test_a_complete_project_is_all_ok_and_exits_0(tmp_path):
    code, text = report_of(complete_project(tmp_path), "project")
    assert code == 0, text
    assert [line[:6] for line in text.splitlines() if line.startswith("[")] == ["[ ok ]"] * 5, text


def test_a_missing_model_fails_naming_make_run_and_exits_1(tmp_path):
    context = complete_project(tmp_path)
    (context.settings.models_dir / "latest").unlink()
    code, text = report_of(context, "project")
    assert code == 1
    lines = text.splitlines()
    (at,) = [number for number, line in enumerate(lines) if line.startswith("[FAIL] model")]
    assert "models/latest is missing" in lines[at]
    assert lines[at + 1].startswith("       fix: make models/latest") and "make run" in lines[at + 1]


def test_missing_data_and_predictions_fail_with_their_make_targets(tmp_path):
    context = complete_project(tmp_path)
    context.settings.data_path.unlink()
    context.settings.predictions_path.unlink()
    assert doctor.check_data(context.settings).fix[0].startswith("make data/customers.csv")
    assert doctor.check_predictions(context.settings).fix[0].startswith("make data/predictions.csv")


def test_a_model_trained_with_other_library_versions_fails_saying_retrain(tmp_path):
    context = complete_project(tmp_path)
    write_model(context.settings.models_dir, "20260202-000000", {"scikit-learn": "0.0.1"})
    finding = doctor.check_model(context.settings)
    assert finding.status == "FAIL"
    assert "scikit-learn 0.0.1" in finding.found and "the API will refuse it" in finding.found
    assert "scripts/train.py" in finding.fix[0]


def test_predictions_older_than_the_model_are_a_warning_only(tmp_path):
    context = complete_project(tmp_path)
    hour_ago = time.time() - 3600
    os.utime(context.settings.predictions_path, (hour_ago, hour_ago))
    code, text = report_of(context, "project")
    assert code == 0
    assert "[warn] predictions" in text and "is older than" in text and "make data/predictions.csv" in text


def test_a_logs_folder_that_cannot_be_written_fails_with_chown(tmp_path):
    context = complete_project(tmp_path)
    context.settings.logs_dir.write_text("a file where the folder should be")
    finding = doctor.check_folder("logs dir", context.settings.logs_dir, context.settings.root_dir)
    assert finding.status == "FAIL" and "is a file, not a folder" in finding.found
    assert finding.fix[0].startswith("sudo chown -R $USER")


def test_folders_not_made_yet_are_writable(tmp_path):
    context = context_for(tmp_path)
    finding = doctor.check_folder("multiproc dir", context.settings.multiprocess_dir, tmp_path)
    assert finding.status == "ok" and "made on first use" in finding.found


# --- the machine ------------------------------------------------------------------------------------

def test_python_older_than_3_11_fails_with_how_to_rebuild_the_venv():
    assert doctor.check_python((3, 13, 1)).status == "ok"
    old = doctor.check_python((3, 10, 12))
    assert old.status == "FAIL" and "3.10.12" in old.found and "make setup" in old.fix[0]


def test_the_pinned_packages_are_installed():
    assert doctor.check_packages(REPO).status == "ok"


def test_a_missing_or_different_package_is_named(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "# a comment\nrequests==0.0.1\nno-such-package-here==1.0\n"
        "only-on-some-platform==1.0; sys_platform == 'x'\n-e .\n")
    finding = doctor.check_packages(tmp_path)
    assert finding.status == "FAIL" and finding.found == "not installed: no-such-package-here"
    (tmp_path / "requirements.txt").write_text("requests==0.0.1\n")
    other = doctor.check_packages(tmp_path)
    assert other.status == "warn" and "requests" in other.found and "(pinned 0.0.1)" in other.found
    assert other.fix[0].endswith("-m pip install -r requirements.txt")


def stand_in_cli(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@POSIX_ONLY
def test_without_docker_it_is_a_warning_that_points_to_the_native_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    docker = doctor.inspect_docker()
    finding = doctor.check_docker(docker)
    assert finding.status == "warn" and "make monitoring" in finding.found + "\n".join(finding.fix)
    assert doctor.check_compose(docker).status == "skip"


@POSIX_ONLY
def test_only_compose_v1_says_the_course_needs_v2(tmp_path, monkeypatch):
    stand_in_cli(tmp_path, "docker", """case "$1" in
  info) echo 27.3.1 ;;
  *) echo "docker: '$1' is not a docker command." >&2; exit 1 ;;
esac
""")
    stand_in_cli(tmp_path, "docker-compose", """echo "docker-compose version 1.29.2, build 5becea4c"
echo "docker-py version: 5.0.0"
echo "CPython version: 3.7.10"
""")
    monkeypatch.setenv("PATH", str(tmp_path))
    docker = doctor.inspect_docker()
    assert doctor.check_docker(docker) == Finding("ok", "docker", "Docker 27.3.1, daemon reachable")
    compose = doctor.check_compose(docker)
    assert compose.status == "warn"
    assert "docker-compose version 1.29.2" in compose.found and "Compose v2" in compose.found
    assert "docker-compose-plugin" in compose.fix[0]
    assert "Compose v1 vs v2" in compose.fix[1]


@POSIX_ONLY
def test_a_daemon_that_refuses_says_how_to_start_it_and_about_the_docker_group(tmp_path, monkeypatch):
    stand_in_cli(tmp_path, "docker", """case "$1" in
  info) echo "permission denied while trying to connect to the Docker daemon socket" >&2; exit 1 ;;
  compose) echo "Docker Compose version v2.29.7" ;;
esac
""")
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = doctor.check_docker(doctor.inspect_docker())
    assert finding.status == "warn" and "permission denied" in finding.found
    assert any("usermod -aG docker" in line for line in finding.fix)


COMPOSE_PS = [
    {"Service": "bootstrap", "State": "exited", "Health": "", "ExitCode": 0},
    {"Service": "api", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "alert-receiver", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "pushgateway", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "blackbox", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "prometheus", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "alertmanager", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "grafana", "State": "running", "Health": "healthy", "ExitCode": 0},
]


def with_changes(**services: dict) -> list[dict]:
    return [row | services.get(row["Service"].replace("-", "_"), {}) for row in COMPOSE_PS]


@POSIX_ONLY
@pytest.mark.parametrize("lines", [True, False], ids=["one object a line", "one array"])
def test_the_compose_containers_are_read_from_docker_compose_ps(tmp_path, monkeypatch, lines):
    rows = with_changes(bootstrap={"ExitCode": 1}, grafana={"Health": "unhealthy"})
    listing = tmp_path / "ps.json"
    listing.write_text("\n".join(map(json.dumps, rows)) if lines else json.dumps(rows))
    stand_in_cli(tmp_path, "docker", f"""case "$1" in
  info) echo 27.3.1 ;;
  compose) if [ "$2" = version ]; then echo "Docker Compose version v2.29.7"; else cat {listing}; fi ;;
esac
""")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")  # cat, sh: the real ones
    finding = doctor.check_containers(context_for(tmp_path))
    assert finding.status == "FAIL"
    assert finding.found == "bootstrap exited with code 1; grafana running (unhealthy)"
    assert finding.fix[0] == "why: docker compose logs bootstrap grafana"


def test_healthy_containers_and_a_finished_bootstrap_are_ok():
    expected = doctor.expected_services(REPO / "docker-compose.yml")
    assert "loadtest" not in expected  # under a profile: not started by `up`
    assert doctor.containers_finding(COMPOSE_PS, expected).status == "ok"
    starting = doctor.containers_finding(with_changes(api={"Health": "starting"}), expected)
    assert (starting.status, starting.found) == ("warn", "api starting")
    missing = doctor.containers_finding([row for row in COMPOSE_PS if row["Service"] != "grafana"], expected)
    assert (missing.status, missing.found) == ("FAIL", "grafana not created")


# --- the stack --------------------------------------------------------------------------------------

def test_nothing_running_is_one_warning_for_the_whole_stack(tmp_path):
    code, text = report_of(context_for(tmp_path), "stack")
    assert code == 0
    findings = [line for line in text.splitlines() if line.startswith("[")]
    assert findings == [findings[0]] and findings[0].startswith("[warn] stack          not running")
    assert "make monitoring" in text and "docker compose up --wait" in text


def test_targets_down_are_named_with_their_last_error():
    targets = [{"health": "up", "labels": {"job": "prometheus", "instance": "localhost:9090"}},
               {"health": "down", "labels": {"job": "alertmanager", "instance": "alertmanager:9093"},
                "lastError": 'Get "http://alertmanager:9093/metrics": dial tcp: connection refused'}]
    finding = doctor.targets_finding(targets)
    assert finding.status == "FAIL"
    assert finding.found.startswith("down: alertmanager alertmanager:9093: Get ")
    assert "connection refused" in finding.found
    assert "docker compose up --wait alertmanager" in finding.fix[0]
    assert doctor.targets_finding(targets[:1]).status == "ok"


def test_pushed_series_relabelled_by_the_scrape_job_mean_honor_labels_is_off(tmp_path):
    prometheus = context_for(tmp_path).components["prometheus"]
    relabelled = [{"metric": {"__name__": "model_f2_score", "job": "pushgateway"}, "value": [0, "0.7"]}]
    finding = doctor.honor_labels_finding(relabelled, prometheus)
    assert finding.status == "FAIL" and "model_f2_score" in finding.found
    assert "honor_labels: true" in finding.fix[0] and "honor_labels" in finding.fix[-1]
    assert doctor.honor_labels_finding([], prometheus).status == "ok"


def pushed(job: str, at: float, **extra: dict) -> dict:
    """A group as the Pushgateway's /api/v1/metrics lists it."""
    return {"labels": {"job": job}, "push_time_seconds": {"metrics": [
        {"labels": {"job": job, "instance": ""}, "value": str(at)}]}} | extra


def test_a_group_pushed_over_a_day_ago_is_a_warning_naming_the_job_and_the_fix(tmp_path):
    pushgateway = context_for(tmp_path, pushgateway_url="http://localhost:9091").components["pushgateway"]
    now = time.time()
    groups = [pushed("churn-training", now - 3 * 86400), pushed("churn-batch-prediction", now - 60)]
    fresh, stale = doctor.groups_findings(groups, now, 86400, pushgateway, ".venv/bin/python")
    assert (fresh.status, fresh.found) == ("ok", "churn-batch-prediction 60 s ago")
    assert stale.status == "warn" and stale.found.startswith("churn-training was pushed 3 days ago")
    assert stale.fix[:2] == ("re-run the job: .venv/bin/python scripts/train.py",
                             "or delete the group: curl -X DELETE localhost:9091/metrics/job/churn-training")
    (nothing,) = doctor.groups_findings([], now, 86400, pushgateway, ".venv/bin/python")
    assert nothing.status == "warn" and "scripts/train.py" in nothing.fix[0]


def test_a_promoting_retraining_after_training_is_mentioned():
    now = time.time()
    promoted = {"model_retraining_promoted": {"metrics": [{"labels": {}, "value": "1"}]}}
    assert doctor.promoted_since_training([pushed("churn-training", now - 60),
                                           pushed("churn-retraining", now, **promoted)])
    assert not doctor.promoted_since_training([pushed("churn-training", now),
                                               pushed("churn-retraining", now - 60, **promoted)])


def grafana(datasource: tuple[int, str], login: str = "admin:admin") -> Callable:
    """Grafana's two endpoints the doctor calls; the datasource health needs the admin login."""
    def answer(request: BaseHTTPRequestHandler) -> tuple[int, str]:
        if request.path == "/api/health":
            return 200, json.dumps({"database": "ok", "version": "12.2.0"})
        if request.path == "/api/datasources/uid/prometheus/health":
            expected = "Basic " + base64.b64encode(login.encode()).decode()
            if request.headers.get("Authorization") != expected:
                return 401, json.dumps({"message": "Invalid username or password"})
            return datasource
        return 404, json.dumps({"message": "Not found"})
    return answer


HEALTHY = (200, json.dumps({"status": "OK", "message": "Successfully queried the Prometheus API."}))


def test_a_healthy_grafana_datasource_is_ok(tmp_path, serve, monkeypatch):
    monkeypatch.delenv("GRAFANA_ADMIN_USER", raising=False)
    monkeypatch.delenv("GRAFANA_ADMIN_PASSWORD", raising=False)
    finding = doctor.check_grafana(context_for(tmp_path, grafana_url=serve(grafana(HEALTHY))))
    assert finding == Finding("ok", "grafana", "datasource uid prometheus healthy: Successfully queried "
                                               "the Prometheus API.")


def test_grafana_login_comes_from_the_environment(tmp_path, serve, monkeypatch):
    url = serve(grafana(HEALTHY, login="teacher:s3cret"))
    monkeypatch.setenv("GRAFANA_ADMIN_USER", "teacher")
    monkeypatch.setenv("GRAFANA_ADMIN_PASSWORD", "wrong")
    refused = doctor.check_grafana(context_for(tmp_path, grafana_url=url))
    assert refused.status == "FAIL" and "refused the login 'teacher'" in refused.found
    assert "reset-admin-password" in refused.fix[1]
    monkeypatch.setenv("GRAFANA_ADMIN_PASSWORD", "s3cret")
    assert doctor.check_grafana(context_for(tmp_path, grafana_url=url)).status == "ok"


def test_a_missing_datasource_uid_fails_pointing_at_the_provisioning_file(tmp_path, serve, monkeypatch):
    monkeypatch.delenv("GRAFANA_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("GRAFANA_ADMIN_USER", raising=False)
    url = serve(grafana((404, json.dumps({"message": "Data source not found"}))))
    finding = doctor.check_grafana(context_for(tmp_path, grafana_url=url))
    assert finding.status == "FAIL" and "no datasource with uid prometheus" in finding.found
    assert finding.fix[0].startswith("monitoring/grafana/provisioning/datasources/datasources.yml")
    assert (REPO / finding.fix[0].split()[0]).is_file()


def test_no_grafana_is_a_warning_that_it_runs_only_in_compose(tmp_path):
    finding = doctor.check_grafana(context_for(tmp_path))
    assert finding.status == "warn" and "only in the Compose stack" in finding.found
    assert finding.fix == ("docker compose up --wait   (make monitoring has no Grafana)",)


# --- the report -------------------------------------------------------------------------------------

def test_a_check_that_breaks_is_one_fail_line_and_the_rest_still_run(tmp_path, monkeypatch):
    def broken() -> Finding:
        raise KeyError("data")

    monkeypatch.setitem(doctor.CHECKS, "project", lambda context: [
        ("broken", broken), ("fine", lambda: Finding("ok", "fine", "still ran"))])
    code, text = report_of(context_for(tmp_path), "project")
    assert code == 1
    assert "[FAIL] broken         the check itself failed: KeyError: 'data'" in text
    assert "[ ok ] fine           still ran" in text
    assert "Traceback" not in text


def test_a_setting_the_checks_cannot_use_is_one_fail_line(tmp_path):
    code, text = report_of(context_for(tmp_path, api_url="http://localhost:99999"), "machine")
    assert code == 1
    assert "[FAIL] machine        the check itself failed: ValueError: Port out of range" in text
    assert "config/settings.toml" in text and "Traceback" not in text


def test_lines_are_plain_ascii_with_the_fix_indented():
    finding = Finding("warn", "docker", "daemon \u201cdown\u201d", ("first", "second"))
    assert finding.lines() == ["[warn] docker         daemon ?down?",
                               "       fix: first",
                               "            second"]
    assert Finding("ok", "docker", "fine", ("not shown",)).lines() == ["[ ok ] docker         fine"]


def test_stale_after_takes_durations():
    assert doctor.stale_duration("12h") == 43200
    with pytest.raises(Exception, match="is not a duration"):
        doctor.stale_duration("soon")
