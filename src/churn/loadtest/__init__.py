"""The load test of scripts/load_test.py: named scenarios of realistic traffic, and the demo
fault switch, so every dashboard panel and alert can be made to move on purpose."""

import ipaddress
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from loguru import logger

from churn.errors import ChurnError
from churn.files import check_writable, write_text_atomic
from churn.loadtest.runner import Target, run
from churn.loadtest.scenarios import ALL, SCENARIOS
from churn.loadtest.summary import Summary
from churn.loadtest.traffic import Population, known_ids, mixes


@dataclass(frozen=True)
class Options:
    url: str
    scenarios: list[str]
    predictions: Path
    id_column: str
    token: str
    timeout: float
    requests: int | None
    seconds: float | None
    workers: int | None
    rps: float | None
    unknown_share: float
    invalid_share: float
    predict_share: float
    seed: int
    json_path: Path | None
    progress: bool


def is_loopback(url: str) -> bool:
    """True when every address the URL's host names is on this machine."""
    host = urlsplit(url).hostname
    if not host:
        return False
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


def served_features(url: str, timeout: float) -> dict[str, list[str]]:
    try:
        answer = requests.get(f"{url}/model", timeout=timeout)
    except requests.RequestException:
        raise ChurnError(f"no API answers at {url}: start it (make run, or docker compose up "
                         "--wait) or point --url at it") from None
    if answer.status_code != 200:
        raise ChurnError(f"the API at {url} is not ready ({answer.status_code}: "
                         f"{answer.text[:200]}); see {url}/ready")
    return answer.json()["features"]


def load_test(options: Options) -> list[Summary]:
    """Runs the scenarios in order; stops after one that was interrupted (Ctrl-C)."""
    names = list(ALL) if options.scenarios == ["all"] else options.scenarios
    if options.json_path:
        check_writable(options.json_path)  # before the traffic, not after it
    target = Target(options.url.rstrip("/"), options.timeout, options.token)
    population = Population.build(known_ids(options.predictions, options.id_column),
                                  served_features(target.url, options.timeout), options.seed)
    traffic = mixes(options.unknown_share, options.invalid_share, options.predict_share)
    summaries = []
    for name in names:
        scenario = SCENARIOS[name].with_options(options.requests, options.seconds, options.workers,
                                                options.rps)
        logger.info("{}: {}", name, scenario.summary)
        logger.info("watch: {}", scenario.watch)
        summary = run(scenario, target, traffic[scenario.traffic], population, options.seed,
                      options.progress)
        print(summary.text(), flush=True)
        summaries.append(summary)
        if options.json_path:
            write_text_atomic(options.json_path, json.dumps(
                [done.as_dict() for done in summaries], indent=2) + "\n")
        if summary.interrupted:
            break
    return summaries
