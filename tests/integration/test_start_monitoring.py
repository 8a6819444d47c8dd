"""The native start command as a user runs it: URLs printed, and everything stopped on a signal."""

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from churn.native_stack import DEFAULT_PORTS, wait_until
from tests.conftest import env_for
from tests.contract.tools import require
from tests.integration.processes import answers

pytestmark = pytest.mark.slow


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_start_prints_urls_and_a_signal_stops_every_process(scored_project, tmp_path, stop_with):
    for binary in ("prometheus", "prometheus-pushgateway", "prometheus-alertmanager"):
        require(binary)
    busy = [port for port in DEFAULT_PORTS.values() if listening(port)]
    if busy:
        message = f"ports {busy} are in use (a stack already running?)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    project = tmp_path / "project"
    shutil.copytree(scored_project, project)
    output = tmp_path / "out.txt"
    with output.open("w") as sink:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "churn.native_stack", "--workdir", str(tmp_path / "stack")],
            env=env_for(project), stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "Press Ctrl-C" in output.read_text(), "stack up", timeout=90,
                       process=launcher)
            for port in DEFAULT_PORTS.values():
                assert f"http://127.0.0.1:{port}" in output.read_text()
            assert answers(f"http://127.0.0.1:{DEFAULT_PORTS['prometheus']}/-/ready")()
            launcher.send_signal(stop_with)
            assert launcher.wait(timeout=60) == 0
        finally:
            launcher.kill()
    assert "stopped." in output.read_text()
    assert [port for port in DEFAULT_PORTS.values() if listening(port)] == []
