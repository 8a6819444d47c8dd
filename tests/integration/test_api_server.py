"""The API under a real uvicorn, one worker and two, as `make run` and scripts/serve.py start it."""

import http.client
import shutil
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from churn.ops.native_stack import wait_until
from tests.helpers import REPO, env_for
from tests.integration.processes import answers, free_port, running

pytestmark = pytest.mark.slow
CHURN = "/churn/{customer_id}"


@pytest.fixture
def project(scored_project, tmp_path):
    shutil.copytree(scored_project, tmp_path, dirs_exist_ok=True)
    return tmp_path


def serve(project, port, workers=1, **env):
    command = [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(port),
               "--workers", str(workers)]
    return running(command, env_for(project, **env), project / f"serve-{workers}.out")


def samples(url: str) -> dict:
    """(name, sorted labels) -> value, from the text the server exposes."""
    text = requests.get(url, timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def churn_requests(values: dict, status: str) -> float:
    labels = (("endpoint", CHURN), ("method", "GET"), ("status_code", status))
    return values.get(("api_requests_total", labels), 0.0)


def test_one_worker_serves_scores_metrics_and_logs(project):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ids = pd.read_csv(project / "data" / "predictions.csv")["CustomerId"].head(12).tolist()
    with serve(project, port) as process:
        wait_until(answers(f"{base}/ready"), "API ready", process=process)
        for customer_id in ids:
            answer = requests.get(f"{base}/churn/{customer_id}", timeout=5)
            assert answer.status_code == 200 and answer.json()["customer_id"] == customer_id
        values = samples(f"{base}/metrics")
    assert churn_requests(values, "200") == 12
    assert values[("model_cache_hits_total", ())] == 12
    log = (project / "logs" / "api.log").read_text()
    # One line per request: uvicorn's access line is not written on top of ours.
    assert sum("/churn/{customer_id} 200" in line for line in log.splitlines()) == 12
    assert '"GET /churn/' not in log


def test_two_workers_add_up_to_exactly_the_requests_sent(project):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ids = pd.read_csv(project / "data" / "predictions.csv")["CustomerId"].head(60).tolist()
    with serve(project, port, workers=2) as process:
        wait_until(answers(f"{base}/ready"), "API ready", process=process)
        for customer_id in ids:  # a new connection each: the kernel spreads them over workers
            assert requests.get(f"{base}/churn/{customer_id}", timeout=5).status_code == 200
        for _ in range(5):
            requests.get(f"{base}/churn/7", timeout=5)
        values = samples(f"{base}/metrics")
        worker_files = list((project / "logs" / "prometheus-multiproc").glob("*/counter_*.db"))
        # What Prometheus asks for: OpenMetrics, here without exemplars, which /health admits.
        openmetrics = requests.get(f"{base}/metrics", timeout=5, headers={
            "Accept": "application/openmetrics-text; version=1.0.0"}).text
        assert openmetrics.endswith("# EOF\n") and "api_requests_total{" in openmetrics
        assert " # {" not in openmetrics
        health = requests.get(f"{base}/health", timeout=5).json()
        assert health == {"status": "ok", "exemplars": "off: several workers"}
    assert len(worker_files) == 2, "both workers should have written metrics"
    assert churn_requests(values, "200") == 60
    assert churn_requests(values, "404") == 5
    assert values[("model_cache_hits_total", ())] == 60
    assert values[("api_active_requests", ())] == 0
    predictions = len(pd.read_csv(project / "data" / "predictions.csv"))
    assert values[("api_predictions_loaded", ())] == predictions


def test_two_workers_answer_a_kept_alive_connection_without_stalling(project):
    """Without TCP_NODELAY on the workers' connections each answer waited for the client's
    delayed ACK: 44 ms a request on a connection reused, against about 2 ms."""
    port = free_port()
    with serve(project, port, workers=2) as process:
        wait_until(answers(f"http://127.0.0.1:{port}/ready"), "API ready", process=process)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        took = []
        for _ in range(15):
            started = time.perf_counter()
            connection.request("GET", "/churn/7")
            assert connection.getresponse().read()
            took.append(time.perf_counter() - started)
        connection.close()
    assert statistics.median(took) < 0.030, took


def test_workers_rotating_one_log_lose_no_line(project):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sent = 2000
    # A rotation every few dozen lines, so the two workers rotate under each other many times.
    with serve(project, port, workers=2, CHURN_LOG_ROTATION="2 KB", CHURN_LOG_BACKUPS="1000") as process:
        wait_until(answers(f"{base}/ready"), "API ready", process=process)
        with ThreadPoolExecutor(8) as clients:  # a new connection each: both workers answer
            statuses = list(clients.map(lambda _: requests.get(f"{base}/churn/7", timeout=10)
                                        .status_code, range(sent)))
        assert statuses == [404] * sent
    files = list((project / "logs").glob("api.log*"))
    lines = [line for path in files for line in path.read_text().splitlines()]
    assert len(files) > 10
    assert sum("/churn/{customer_id} 404" in line for line in lines) == sent
    output = (project / "serve-2.out").read_text()
    assert "Logging error" not in output and "Traceback" not in output


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_body_that_stops_half_way_is_408_and_the_connection_closed(project, framing):
    port = free_port()
    headers = {"chunked": b"Transfer-Encoding: chunked\r\n\r\n5\r\n[{\"a\"\r\n",
               "content-length": b"Content-Length: 500\r\n\r\n[{\"a\""}[framing]
    with serve(project, port, CHURN_API_BODY_TIMEOUT_SECONDS="1") as process:
        wait_until(answers(f"http://127.0.0.1:{port}/ready"), "API ready", process=process)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"POST /predict/batch HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\n" + headers)
            answer = b""
            while chunk := connection.recv(65536):  # until the server closes the connection
                answer += chunk
        values = samples(f"http://127.0.0.1:{port}/metrics")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request body not complete within 1 s" in answer
    labels = (("endpoint", "/predict/batch"), ("method", "POST"), ("status_code", "408"))
    assert values[("api_requests_total", labels)] == 1


def test_a_second_instance_leaves_the_first_ones_metrics_alone(project):
    first, second = free_port(), free_port()
    with serve(project, first, workers=2) as process:
        wait_until(answers(f"http://127.0.0.1:{first}/ready"), "first API ready", process=process)
        for _ in range(3):
            requests.get(f"http://127.0.0.1:{first}/churn/7", timeout=5)
        other = running([sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(second),
                         "--workers", "2"], env_for(project), project / "serve-second.out")
        with other as second_process:
            wait_until(answers(f"http://127.0.0.1:{second}/ready"), "second API ready",
                       process=second_process)
            for _ in range(4):
                requests.get(f"http://127.0.0.1:{first}/churn/7", timeout=5)
            requests.get(f"http://127.0.0.1:{second}/churn/7", timeout=5)
            values = samples(f"http://127.0.0.1:{first}/metrics")
            assert churn_requests(values, "404") == 7
            assert any(name == "model_info" and value == 1 for (name, _), value in values.items())
            assert churn_requests(samples(f"http://127.0.0.1:{second}/metrics"), "404") == 1
        # The second instance has stopped: nothing of it is summed into the first one.
        assert churn_requests(samples(f"http://127.0.0.1:{first}/metrics"), "404") == 7
    assert list((project / "logs" / "prometheus-multiproc").iterdir()) == []


def test_restart_starts_counting_from_zero(project):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for _ in range(2):
        with serve(project, port, workers=2) as process:
            wait_until(answers(f"{base}/ready"), "API ready", process=process)
            requests.get(f"{base}/churn/7", timeout=5)
            assert churn_requests(samples(f"{base}/metrics"), "404") == 1


def test_start_without_a_model_fails_fast_with_the_reason(project):
    (project / "models" / "latest").unlink()
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(free_port())],
        env=env_for(project), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "| ERROR    | cannot start: no trained model in " in line


@pytest.mark.parametrize(("option", "value"), [("--port", "99999"), ("--port", "http"),
                                               ("--workers", "0"), ("--workers", "-2")])
def test_impossible_server_options_are_one_line_and_no_server(project, option, value):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "serve.py"), option, value],
                            env=env_for(project), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert option in error and repr(value) in error
