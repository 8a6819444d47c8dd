"""Starting real processes for tests; waiting on them is churn.ops.native_stack.wait_until's job."""

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from churn.ops.native_stack import DEFAULT_PORTS, NativeStack, stop_process
from tests.contract.tools import STACK_BINARIES, require
from tests.helpers import env_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str, status: int = 200) -> Callable[[], bool]:
    """A condition: `url` answers with `status`."""
    def check() -> bool:
        try:
            return requests.get(url, timeout=2).status_code == status
        except requests.RequestException:
            return False
    return check


@contextmanager
def running(command: list[str], env: dict, output: Path) -> Iterator[subprocess.Popen]:
    """Runs `command` with its output in a file, and stops it (then kills it) on the way out."""
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            stop_process(process)


def native_stack(project: Path, root: Path, rules_dir: Path | None = None, **env: str) -> NativeStack:
    """A NativeStack (not started) on free ports, scraping every second, over a copy of `project`
    in `root`; its jobs push to its own Pushgateway. Skips, or fails under CI, without the binaries."""
    for binary in STACK_BINARIES:
        require(binary)
    shutil.copytree(project, root, dirs_exist_ok=True)
    ports = {name: free_port() for name in DEFAULT_PORTS}
    stack_env = env_for(root, CHURN_PUSHGATEWAY_URL=f"http://127.0.0.1:{ports['pushgateway']}",
                        CHURN_PROMETHEUS_URL=f"http://127.0.0.1:{ports['prometheus']}", **env)
    return NativeStack(workdir=root / "stack", ports=ports, env=stack_env, interval="1s",
                       rules_dir=rules_dir)


@contextmanager
def started_stack(stack: NativeStack) -> Iterator[NativeStack]:
    """`stack` started, with Prometheus scraping the API (traffic sent before its first scrape
    would only ever be a counter's first value, which rate() does not count); stopped after."""
    try:
        stack.start_all()
        stack.wait_for('up{job="api-churn"} == 1')
        yield stack
    finally:
        stack.stop_all()
