"""Starting real processes for tests; waiting on them is churn.ops.native_stack.wait_until's job."""

import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from churn.ops.native_stack import stop_process


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
