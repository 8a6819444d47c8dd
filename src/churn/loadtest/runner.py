"""Runs one scenario: worker threads, each with its own keep-alive session, draw calls from the
scenario's mix until its request count or duration is reached, or Ctrl-C.

A fault the scenario switches on is switched off again on the way out, whatever happened.
"""

import math
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests
from tqdm import tqdm

from churn.errors import ChurnError
from churn.loadtest.scenarios import Scenario
from churn.loadtest.summary import Result, Summary
from churn.loadtest.traffic import Call, Mix, Population

FAULTS_PATH = "/admin/faults"
# How long a fault outlives its scenario if the switch-off never arrives (the script killed).
FAULT_MARGIN_SECONDS = 60


@dataclass
class Target:
    url: str
    timeout: float
    token: str = field(repr=False, default="")

    def admin(self, method: str, body: dict | None = None) -> dict:
        """A call to the fault switch; a ChurnError that says what to do when it is not there."""
        try:
            answer = requests.request(method, self.url + FAULTS_PATH, json=body, timeout=self.timeout,
                                      headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException as exc:
            raise ChurnError(f"cannot reach the fault switch at {self.url}: {exc}") from None
        if answer.status_code == 404:
            raise ChurnError("the API has no demo fault switch: start it with CHURN_DEMO_FAULTS=true "
                             "and CHURN_ADMIN_TOKEN set (the Compose stack does)")
        if answer.status_code == 401:
            raise ChurnError("the fault switch refused the token: pass the API's admin token with "
                             "--token or CHURN_ADMIN_TOKEN")
        if answer.status_code != 200:
            raise ChurnError(f"the fault switch answered {answer.status_code}: {answer.text[:200]}")
        return answer.json()


@contextmanager
def fault_on(target: Target, fault: dict[str, float], seconds: float) -> Iterator[None]:
    """Switches `fault` on for the block, and off again however the block ends."""
    if not fault:
        yield
        return
    minutes = math.ceil((seconds + FAULT_MARGIN_SECONDS) / 60)
    target.admin("POST", fault | {"minutes": min(minutes, 60)})
    try:
        yield
    finally:
        target.admin("POST", dict.fromkeys(fault, 0))


def send(session: requests.Session, target: Target, call: Call) -> Result:
    started = time.perf_counter()
    try:
        answer = session.request(call.method, target.url + call.path, json=call.body,
                                 timeout=target.timeout)
        return Result(call.kind, answer.status_code, time.perf_counter() - started)
    except requests.Timeout:
        return Result(call.kind, None, time.perf_counter() - started, "timeout")
    except requests.RequestException as exc:
        return Result(call.kind, None, time.perf_counter() - started, type(exc).__name__)


def expected_seconds(scenario: Scenario) -> float:
    """About how long the scenario runs: its duration, or its count at its rate (a guess without)."""
    if scenario.seconds:
        return scenario.seconds
    return (scenario.requests or 0) / (scenario.rps or 50)


def run(scenario: Scenario, target: Target, mix: Mix, population: Population, seed: int,
        progress: bool = True) -> Summary:
    """Runs `scenario` to its end, or until Ctrl-C (then the summary says interrupted)."""
    stop = threading.Event()
    results: list[Result] = []
    issued = iter(range(scenario.requests or 10**15))
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + scenario.seconds if scenario.seconds else math.inf
    total = scenario.requests or (round(scenario.seconds * scenario.rps) if scenario.rps else None)
    bar = tqdm(total=total, desc=scenario.name, unit="req", disable=not progress, leave=False)

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with requests.Session() as session:
            while not stop.is_set():
                with lock:
                    number = next(issued, None)
                if number is None or time.monotonic() >= deadline:
                    return
                if scenario.rps and stop.wait(max(started + number / scenario.rps - time.monotonic(), 0)):
                    return
                results.append(send(session, target, mix.draw(population, rng)))
                bar.update(1)

    interrupted = False
    with fault_on(target, scenario.fault, expected_seconds(scenario)):
        pool = ThreadPoolExecutor(scenario.workers, thread_name_prefix=scenario.name)
        futures = [pool.submit(worker, index) for index in range(scenario.workers)]
        try:
            wait(futures)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            wait(futures)  # each worker ends after its request in flight (at most the time-out)
        finally:
            pool.shutdown()
            bar.close()
    for future in futures:
        future.result()  # a bug in a worker is not silent
    return Summary.of(scenario.name, results, time.monotonic() - started, interrupted)
