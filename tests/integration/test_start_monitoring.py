"""The start script as a user runs it: URLs printed, and everything stopped on a signal."""

import os
import shutil
import signal
import subprocess
import sys

import pytest
import requests

from churn.ops.native_stack import DEFAULT_PORTS, port_in_use, wait_until
from tests.contract.tools import STACK_BINARIES, require
from tests.helpers import REPO, env_for
from tests.integration.processes import answers

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_start_prints_urls_and_a_signal_stops_every_process(student_project, tmp_path, stop_with):
    for binary in STACK_BINARIES:
        require(binary)
    busy = [port for port in DEFAULT_PORTS.values() if port_in_use(port)]
    if busy:
        message = f"ports {busy} are in use (a stack already running?)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    project = tmp_path / "project"
    shutil.copytree(student_project, project)
    output = tmp_path / "out.txt"
    with output.open("w") as sink:
        launcher = subprocess.Popen(
            [str(REPO / "scripts" / "start_monitoring.sh"), "--native", "--workdir", str(tmp_path / "stack")],
            env=env_for(project, PYTHON=sys.executable), stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "Press Ctrl-C" in output.read_text(), "stack up", timeout=90,
                       process=launcher)
            for port in DEFAULT_PORTS.values():
                assert f"http://127.0.0.1:{port}" in output.read_text()
            assert answers(f"http://127.0.0.1:{DEFAULT_PORTS['prometheus']}/-/ready")()
            # The jobs ran before the Pushgateway was up: the start pushes the files they kept.
            assert "pushed the metrics the jobs kept: churn-training, churn-batch-prediction" \
                in output.read_text()
            groups = requests.get(f"http://127.0.0.1:{DEFAULT_PORTS['pushgateway']}/api/v1/metrics",
                                  timeout=5).json()["data"]
            held = {group["labels"]["job"]: group for group in groups}
            assert {"churn-training", "churn-batch-prediction"} <= set(held), sorted(held)
            assert "model_f2_score" in held["churn-training"]
            launcher.send_signal(stop_with)
            assert launcher.wait(timeout=60) == 0
        finally:
            # A failed assertion above still stops the stack, not just the launcher: killed
            # outright, it would leave its processes holding the ports.
            if launcher.poll() is None:
                launcher.send_signal(signal.SIGINT)
                try:
                    launcher.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    launcher.kill()
    assert "stopped." in output.read_text()
    assert [port for port in DEFAULT_PORTS.values() if port_in_use(port)] == []


@pytest.mark.parametrize("option", ["--bogus", "down"])
def test_start_refuses_an_unknown_option_with_the_usage(option):
    result = subprocess.run([str(REPO / "scripts" / "start_monitoring.sh"), option],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert f"unknown option: {option}" in result.stderr and "--native" in result.stderr
