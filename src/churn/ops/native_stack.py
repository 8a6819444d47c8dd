"""The monitoring stack without Docker: Pushgateway, Prometheus, Alertmanager, the blackbox
exporter, the alert receiver and the API as local processes, reading the repository's own
monitoring/ files.

Only what must differ from Compose is rewritten: service names become 127.0.0.1 and the chosen
ports, and (for tests) the scrape and evaluation intervals. `python -m churn.ops.native_stack`
starts it on DESIGN.md's ports, prints the URLs and stops everything on Ctrl-C; the tests drive
the same class on free ports.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from churn.cli import run_job
from churn.errors import ChurnError
from churn.metrics import JOB_BATCH, JOB_TRAINING
from churn.model.registry import latest_version
from churn.settings import PROJECT_ROOT, Settings

MONITORING = PROJECT_ROOT / "monitoring"
DEFAULT_PORTS = {"api": 8000, "prometheus": 9090, "pushgateway": 9091, "alertmanager": 9093,
                 "receiver": 9095, "blackbox": 9115}
# The Compose addresses in monitoring/'s files, and the component each one stands for.
COMPOSE_ADDRESSES = {"api:8000": "api", "pushgateway:9091": "pushgateway",
                     "alertmanager:9093": "alertmanager", "localhost:9090": "prometheus",
                     "alert-receiver:9095": "receiver", "blackbox:9115": "blackbox"}
# Debian's package names first, then the upstream (Homebrew) ones.
BINARIES = {"prometheus": ("prometheus",),
            "pushgateway": ("prometheus-pushgateway", "pushgateway"),
            "alertmanager": ("prometheus-alertmanager", "alertmanager"),
            "blackbox": ("prometheus-blackbox-exporter", "blackbox_exporter")}
READY_PATHS = {"api": "/ready", "prometheus": "/-/ready", "pushgateway": "/-/ready",
               "alertmanager": "/-/ready", "receiver": "/health", "blackbox": "/-/healthy"}
# Start order: what is scraped or called before what scrapes or calls it.
ORDER = ("receiver", "alertmanager", "pushgateway", "api", "blackbox", "prometheus")
POLL_SECONDS = 0.1


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """Asks a process to stop, and kills it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60,
               process: subprocess.Popen | None = None, output: Path | None = None) -> object:
    """Polls `condition` until it returns something truthy, and returns that; fails early, with
    the reason, if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if process is not None and process.poll() is not None:
            raise ChurnError(f"{what}: the process exited with code {process.returncode}"
                             + (f"; see {output}" if output else ""))
        if time.monotonic() > deadline:
            raise ChurnError(f"{what}: not after {timeout} s")
        time.sleep(POLL_SECONDS)
    return result


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def find_binary(component: str) -> str:
    for name in BINARIES[component]:
        if path := shutil.which(name):
            return path
    raise ChurnError(f"{BINARIES[component][0]} is not installed (Debian/Ubuntu: apt-get install "
                     "prometheus prometheus-pushgateway prometheus-alertmanager "
                     "prometheus-blackbox-exporter; macOS: brew install prometheus pushgateway "
                     "alertmanager blackbox_exporter)")


def local_addresses(text: str, ports: dict[str, int]) -> str:
    """`text` with each Compose address (api:8000, ...) replaced by 127.0.0.1 and its port."""
    pattern = "|".join(re.escape(address) for address in COMPOSE_ADDRESSES)
    return re.sub(rf"\b({pattern})\b",
                  lambda match: f"127.0.0.1:{ports[COMPOSE_ADDRESSES[match[1]]]}", text)


def prometheus_config(ports: dict[str, int], interval: str | None, rules_dir: Path | None = None) -> dict:
    """monitoring/prometheus/prometheus.yml pointed at local ports (and optionally faster, and at
    other copies of the rule files)."""
    config = yaml.safe_load(local_addresses(
        (MONITORING / "prometheus" / "prometheus.yml").read_text(), ports))
    if interval:
        for job in config["scrape_configs"]:
            job["scrape_interval"] = interval
    rules = MONITORING / "prometheus"
    config["rule_files"] = [str(rules_dir / Path(pattern).name if rules_dir else rules / pattern)
                            for pattern in config["rule_files"]]
    if interval:
        config["global"] |= {"scrape_interval": interval, "evaluation_interval": interval}
    return config


def alertmanager_config(ports: dict[str, int]) -> str:
    return local_addresses((MONITORING / "alertmanager" / "alertmanager.yml").read_text(), ports)


def query(prometheus_url: str, promql: str, at: float | None = None) -> list[dict]:
    """The instant vector (or scalar as a one-element list) Prometheus returns for `promql`, now
    or at the Unix time `at`."""
    params = {"query": promql} | ({} if at is None else {"time": at})
    answer = requests.get(f"{prometheus_url}/api/v1/query", params=params, timeout=10)
    body = answer.json()
    if body.get("status") != "success":
        raise ChurnError(f"query {promql!r} failed: {body.get('error', answer.text)}")
    result = body["data"]["result"]
    return result if body["data"]["resultType"] == "vector" else [{"value": result}]


@dataclass
class NativeStack:
    """The stack's processes; `workdir` holds the rewritten configs, TSDB and process output."""

    workdir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    interval: str | None = None
    rules_dir: Path | None = None  # copies of monitoring/prometheus/rules/ to load instead
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.ports[component]}"

    def command(self, component: str) -> list[str]:
        port, work = self.ports[component], self.workdir
        listen = f"--web.listen-address=127.0.0.1:{port}"
        if component == "prometheus":
            config = work / "prometheus.yml"
            config.write_text(yaml.safe_dump(prometheus_config(self.ports, self.interval,
                                                               self.rules_dir)))
            return [find_binary("prometheus"), f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'prometheus-data'}", listen,
                    "--enable-feature=exemplar-storage", "--web.enable-lifecycle"]
        if component == "alertmanager":
            config = work / "alertmanager.yml"
            config.write_text(alertmanager_config(self.ports))
            # No peers to gossip with: clustering off, or notifications wait for it to settle.
            return [find_binary("alertmanager"), f"--config.file={config}",
                    f"--storage.path={work / 'alertmanager-data'}", listen, "--cluster.listen-address="]
        if component == "pushgateway":
            # Pushed groups survive a restart of the Pushgateway, as in Compose.
            return [find_binary("pushgateway"), listen,
                    f"--persistence.file={work / 'pushgateway.db'}"]
        if component == "blackbox":
            return [find_binary("blackbox"), f"--config.file={MONITORING / 'blackbox' / 'blackbox.yml'}",
                    listen]
        if component == "receiver":
            return [sys.executable, "-m", "churn.ops.alert_receiver", "--port", str(port)]
        return [sys.executable, str(PROJECT_ROOT / "scripts" / "serve.py"), "--port", str(port)]

    def start(self, component: str, timeout: float = 60) -> None:
        """Starts one component and returns once it answers its readiness endpoint.

        A port that something else already holds is refused: its answers would pass for ours.
        """
        if port_in_use(self.ports[component]):
            raise ChurnError(f"{component}: port {self.ports[component]} is already in use "
                             "(another stack still running?)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        output = (self.workdir / f"{component}.out").open("ab")
        self.processes[component] = subprocess.Popen(
            self.command(component), env=self.env, stdout=output, stderr=subprocess.STDOUT)
        output.close()
        process = self.processes[component]
        self.wait_until(lambda: process.poll() is None and self.answers(component),
                        f"{component} ready", timeout, component)

    def start_all(self) -> None:
        for component in ORDER:
            self.start(component)

    def restart_stopped(self) -> list[str]:
        """Starts again every component that was stopped or has exited, in start order."""
        stopped = [component for component in ORDER
                   if (process := self.processes.get(component)) is None or process.poll() is not None]
        for component in stopped:
            self.start(component)
        return stopped

    def stop(self, component: str) -> None:
        process = self.processes.pop(component, None)
        if process is not None:
            stop_process(process)

    def stop_all(self) -> None:
        for component in reversed(ORDER):
            self.stop(component)

    def answers(self, component: str) -> bool:
        try:
            return requests.get(self.url(component) + READY_PATHS[component], timeout=2).ok
        except requests.RequestException:
            return False

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 60,
                   component: str | None = None) -> object:
        """wait_until, failing early if `component` exits meanwhile."""
        return wait_until(condition, what, timeout, self.processes.get(component) if component else None,
                          self.workdir / f"{component}.out" if component else None)

    def query(self, promql: str) -> list[dict]:
        return query(self.url("prometheus"), promql)

    def wait_for(self, promql: str, timeout: float = 60) -> list[dict]:
        """Waits until `promql` returns at least one series, and returns them."""
        return self.wait_until(lambda: self.query(promql), f"query {promql!r}", timeout)


def push_kept_metrics(settings: Settings, pushgateway_url: str) -> list[str]:
    """Pushes the metrics files that training and batch prediction kept, for each job the
    Pushgateway holds nothing of: `make monitoring` runs those jobs before the Pushgateway is up,
    so on a first start their pushes failed. Returns the jobs pushed."""
    try:
        version = latest_version(settings.models_dir)
    except ChurnError:
        return []
    kept = {JOB_TRAINING: settings.models_dir / version / "metrics.prom",
            JOB_BATCH: settings.predictions_path.with_suffix(".prom")}
    groups = requests.get(f"{pushgateway_url}/api/v1/metrics", timeout=5).json()["data"]
    held = {group["labels"].get("job") for group in groups}
    pushed = []
    for job, textfile in kept.items():
        if job not in held and textfile.is_file():
            requests.put(f"{pushgateway_url}/metrics/job/{job}", data=textfile.read_bytes(),
                         timeout=5).raise_for_status()
            pushed.append(job)
    return pushed


def run_until_interrupted(settings: Settings, workdir: Path) -> None:
    stack = NativeStack(workdir=workdir)
    stopping = []
    # Both signals stop everything, even when started from a shell that ignored SIGINT for us.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.append(True))
    try:
        stack.start_all()
        if pushed := push_kept_metrics(settings, stack.url("pushgateway")):
            print(f"pushed the metrics the jobs kept: {', '.join(pushed)}")
        print("churn-monitoring is up:")
        for component in ("api", "prometheus", "pushgateway", "alertmanager", "receiver", "blackbox"):
            print(f"  {component:<13} {stack.url(component)}")
        print(f"  alerts        {settings.logs_dir / 'alerts.jsonl'}")
        print("Press Ctrl-C to stop everything.", flush=True)
        while not stopping and all(process.poll() is None for process in stack.processes.values()):
            time.sleep(0.5)
    finally:
        stack.stop_all()
        print("stopped.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="for configs and data (default: logs/native-stack)")
    args = parser.parse_args()
    return run_job("monitoring", lambda settings: run_until_interrupted(
        settings, args.workdir or settings.logs_dir / "native-stack"))


if __name__ == "__main__":
    sys.exit(main())
