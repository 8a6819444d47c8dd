"""Starting real processes for tests and waiting on them: readiness polls, never fixed sleeps."""

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from churn.native_stack import stop_process

POLL_SECONDS = 0.1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30,
               process: subprocess.Popen | None = None) -> None:
    """Polls `condition` until it holds; fails early, with the reason, if `process` dies."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: process exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout} s")
        time.sleep(POLL_SECONDS)


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
