"""Every command in README.md runs as written: the scripts in a scratch project, curl against the API."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from churn.ops.native_stack import wait_until
from tests.helpers import REPO, env_for
from tests.integration.processes import answers, free_port, running

pytestmark = pytest.mark.slow
README = REPO / "README.md"


def bash_commands(markdown: str) -> list[str]:
    """Command lines of the ```bash blocks, without trailing comments."""
    blocks = re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


COMMANDS = bash_commands(README.read_text(encoding="utf-8"))
# These talk to Prometheus: tests/integration/test_native_stack.py runs them against a live stack.
STACK_MARKERS = ("localhost:9090", "export_metrics.py")
# These need the API: run below while it serves, like the curl commands.
API_MARKERS = ("curl ", "scripts/load_test.py")


def needs_stack(command: str) -> bool:
    return any(marker in command for marker in STACK_MARKERS)


def needs_api(command: str) -> bool:
    return any(marker in command for marker in API_MARKERS) and not needs_stack(command)


def run_bash(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder that looks like the repository to the commands, with its own data and models."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "scripts").symlink_to(REPO / "scripts")
    (folder / "data").mkdir()
    return folder


def test_quick_start_is_the_two_make_commands():
    assert COMMANDS[:2] == ["make run", "make test"]


def test_make_targets_in_the_readme_exist():
    makefile = (REPO / "Makefile").read_text()
    for command in COMMANDS:
        if command.startswith("make "):
            assert f"\n{command.split()[1]}:" in makefile, command


@pytest.fixture(scope="module")
def script_runs(workdir) -> list[tuple[str, subprocess.CompletedProcess]]:
    """The README's script commands, run once, in order, as a user would paste them."""
    scripts = [command for command in COMMANDS if command.startswith(".venv/bin/python scripts/")
               and not needs_stack(command) and not needs_api(command)]
    return [(command, run_bash(command.replace(".venv/bin/python", sys.executable, 1), workdir,
                               env_for(workdir))) for command in scripts]


def test_script_commands_run_as_written(script_runs):
    assert len(script_runs) >= 5
    for command, result in script_runs:
        assert result.returncode == 0, f"{command}\n{result.stderr}"


def test_curl_and_load_test_commands_answer_as_written(workdir, script_runs):
    """Against the API serving the scripts' data; the load test is pointed at it with --url."""
    commands = [command for command in COMMANDS
                if needs_api(command) and not command.startswith("docker ")]
    assert any("/churn/" in command for command in commands)
    assert any("load_test.py" in command for command in commands)
    port = free_port()
    env = env_for(workdir)
    command = [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(port)]
    with running(command, env, workdir / "serve.out") as server:
        wait_until(answers(f"http://127.0.0.1:{port}/ready"), "API ready", process=server)
        for command in commands:
            if "load_test.py" in command:
                command = command.replace(".venv/bin/python", sys.executable, 1) + (
                    f" --url http://127.0.0.1:{port} --no-progress")
            result = run_bash(command.replace("localhost:8000", f"127.0.0.1:{port}"), workdir, env)
            assert result.returncode == 0, f"{command}\n{result.stderr}"
            assert result.stdout.strip() and '"detail"' not in result.stdout, f"{command}\n{result.stdout}"


def test_benchmark_commands_accept_their_arguments(tmp_path):
    """The benchmarks take minutes and are run by hand; here each command as written must import
    and accept its arguments (it is run with --help added, which stops before measuring)."""
    commands = [command for command in COMMANDS if command.startswith(".venv/bin/python benchmarks/")]
    assert len(commands) == 2
    for command in commands:
        result = run_bash(command.replace(".venv/bin/python", sys.executable, 1) + " --help",
                          REPO, env_for(tmp_path))
        assert result.returncode == 0 and "usage:" in result.stdout, f"{command}\n{result.stderr}"
