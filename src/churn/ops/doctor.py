"""The preflight doctor: is this machine, this project and the running stack ready for class?

Each check prints one line (ok, warn, FAIL or skip, a name, what it found) and, under a warn or a
FAIL, the commands that fix it. The doctor is run when something is already wrong, so a check
that breaks becomes a FAIL line naming the error, never a traceback, and every call to a server
gives up after two seconds. Exit code 0 without a FAIL (warnings allowed), 1 otherwise.
"""

import argparse
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Literal, TextIO
from urllib.parse import urlsplit

import requests
import yaml

from churn.errors import ChurnError, OutputError, SettingsError
from churn.files import check_writable
from churn.metrics import JOB_BATCH, JOB_RETRAINING, JOB_TRAINING
from churn.model.registry import ARTIFACT, LATEST, PINNED_LIBRARIES, read_metadata
from churn.ops.export import seconds_of
from churn.ops.native_stack import DEFAULT_PORTS
from churn.settings import Settings, load_settings

Status = Literal["ok", "warn", "FAIL", "skip"]
# ASCII only: the doctor must print on any terminal, Windows' cp1252 consoles included.
MARKS = {"ok": "[ ok ]", "warn": "[warn]", "FAIL": "[FAIL]", "skip": "[skip]"}
NAME_WIDTH = 14
SECTIONS = ("machine", "project", "stack")
MIN_PYTHON = (3, 11)  # pyproject.toml's requires-python
HTTP_TIMEOUT_SECONDS = 2.0
# `docker info` answers in well under a second; a daemon that hangs must not hang the doctor.
COMMAND_TIMEOUT_SECONDS = 10.0
MIN_FREE_BYTES = 2 * 1024**3  # the images, a model, the TSDB and the logs
DAY_SECONDS = 86_400
TROUBLESHOOTING = "tutorial/TROUBLESHOOTING.md"
# Pushed series that Prometheus relabelled with the scrape job's name: honor_labels is off.
RELABELLED_QUERY = '{job="pushgateway", __name__=~"model_.*|churn_.*"}'
RERUN = {JOB_TRAINING: "scripts/train.py", JOB_BATCH: "scripts/predict_batch.py",
         JOB_RETRAINING: "scripts/retrain.py --new-data <file>"}
# Prometheus jobs and the Compose service (and native-stack component) behind each.
JOB_SERVICES = {"api-churn": "api", "prometheus": "prometheus", "pushgateway": "pushgateway",
                "alertmanager": "alertmanager", "blackbox": "blackbox"}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)\s*(;.*)?$")


@dataclass(frozen=True)
class Finding:
    """One line of the report, and the commands that fix what it found."""

    status: Status
    name: str
    found: str
    fix: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        lines = [f"{MARKS[self.status]} {self.name:<{NAME_WIDTH}} {self.found}"]
        if self.status in ("warn", "FAIL"):
            lines += [("       fix: " if number == 0 else "            ") + line
                      for number, line in enumerate(self.fix)]
        return [line.encode("ascii", "replace").decode("ascii") for line in lines]


def ok(name: str, found: str) -> Finding:
    return Finding("ok", name, found)


def warn(name: str, found: str, *fix: str) -> Finding:
    return Finding("warn", name, found, fix)


def fail(name: str, found: str, *fix: str) -> Finding:
    return Finding("FAIL", name, found, fix)


def skip(name: str, found: str) -> Finding:
    return Finding("skip", name, found)


def get(url: str, **kwargs: object) -> requests.Response:
    return requests.get(url, timeout=HTTP_TIMEOUT_SECONDS, **kwargs)


def json_of(answer: requests.Response) -> dict:
    """The answer's JSON object, or {} for anything else (an HTML page, a list, nothing)."""
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def one_line(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tail(text: str, limit: int = 90) -> str:
    """The end of a long error, where Go programs put the cause ("...: connection refused")."""
    text = " ".join(text.split())
    return text if len(text) <= limit else "..." + text[3 - limit:]


def ago(seconds: float) -> str:
    for unit, size in (("days", DAY_SECONDS), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


# --- the stack's servers, and who holds their ports ---------------------------------------------

# How each server says it is itself: a stranger on the port answers something else.
IDENTIFY: dict[str, Callable[[requests.Response], bool]] = {
    "api": lambda answer: answer.ok and json_of(answer).get("status") == "ok"
    and "exemplars" in json_of(answer),
    "prometheus": lambda answer: answer.ok and "Prometheus" in answer.text,
    "pushgateway": lambda answer: answer.ok and answer.text.strip() == "OK",
    "alertmanager": lambda answer: answer.ok and answer.text.strip() == "OK",
    "receiver": lambda answer: answer.ok and json_of(answer) == {"status": "ok"},
    "blackbox": lambda answer: answer.ok and "Healthy" in answer.text,
    "grafana": lambda answer: answer.ok and "database" in json_of(answer),
}


@dataclass(frozen=True)
class Component:
    """A server of the stack: where the settings say it listens, and how to ask who is there."""

    key: str
    title: str
    service: str  # its Compose service
    url: str
    path: str  # what IDENTIFY reads
    setting: str | None = None  # the settings key of its URL, when it has one

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def address(self) -> str:
        """host:port, as curl takes it."""
        return self.url.split("://", 1)[-1].rstrip("/")


def components(settings: Settings, ports: dict[str, int] = DEFAULT_PORTS) -> dict[str, Component]:
    """The receiver and the blackbox exporter have no URL setting: `ports` (DESIGN.md's) on localhost."""
    found = [
        Component("api", "the API", "api", settings.api_url, "/health", "api_url"),
        Component("prometheus", "Prometheus", "prometheus", settings.prometheus_url, "/-/ready",
                  "prometheus_url"),
        Component("pushgateway", "the Pushgateway", "pushgateway", settings.pushgateway_url,
                  "/-/ready", "pushgateway_url"),
        Component("alertmanager", "Alertmanager", "alertmanager", settings.alertmanager_url,
                  "/-/ready", "alertmanager_url"),
        Component("receiver", "the alert receiver", "alert-receiver",
                  f"http://localhost:{ports['receiver']}", "/health"),
        Component("blackbox", "the blackbox exporter", "blackbox",
                  f"http://localhost:{ports['blackbox']}", "/-/healthy"),
        Component("grafana", "Grafana", "grafana", settings.grafana_url, "/api/health", "grafana_url"),
    ]
    return {component.key: component for component in found}


@dataclass(frozen=True)
class Probe:
    """Who holds a component's port: nobody, the component itself, or another program."""

    state: Literal["free", "ours", "foreign"]
    detail: str = ""


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=HTTP_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def probe(component: Component) -> Probe:
    if not listening(component.host, component.port):
        return Probe("free")
    try:
        answer = get(component.url.rstrip("/") + component.path)
    except requests.RequestException as exc:
        return Probe("foreign", f"it does not answer HTTP ({exc.__class__.__name__})")
    if IDENTIFY[component.key](answer):
        return Probe("ours")
    return Probe("foreign", f"GET {component.path} answered {answer.status_code} "
                            f"{one_line(answer.text, 60)!r}")


def is_local(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback
                   for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


def port_fix(component: Component) -> tuple[str, ...]:
    """How to find the program in the way, and how to move ours out of its way instead."""
    port, inside = component.port, DEFAULT_PORTS.get(component.key, 3000)
    other = port + 10000 if port < 55536 else port - 1
    move = (f'or move {component.title} (Compose): in docker-compose.yml, service {component.service}, '
            f'publish "127.0.0.1:{other}:{inside}"')
    if component.setting:
        move += f", then export CHURN_{component.setting.upper()}=http://localhost:{other}"
    lines = [f"see which program holds it: ss -ltnp 'sport = :{port}' (Linux), lsof -i :{port} "
             f"(macOS), netstat -ano | findstr :{port} (Windows); stop it if you can,", move]
    if component.key == "api":
        lines.append(f"or natively: make run PORT={other}, then export CHURN_API_URL=http://localhost:{other}")
    if component.key != "grafana":
        lines.append(f"(make monitoring, without Docker, needs port {port} itself)")
    lines.append(f"see {TROUBLESHOOTING}, ports in use")
    return tuple(lines)


def check_port(component: Component, found: Probe) -> Finding:
    name = f"port {component.port}"
    if not is_local(component.host):
        return skip(name, f"{component.title} is at {component.url}, not on this machine")
    if found.state == "free":
        return ok(name, f"free (for {component.title})")
    if found.state == "ours":
        return ok(name, f"{component.title} of this stack")
    return fail(name, f"held by another program, not {component.title}: {found.detail}",
                *port_fix(component))


# --- Docker ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Docker:
    """What the machine has of Docker: the CLI, a daemon that answers, Compose v2 (or only v1)."""

    cli: str | None
    daemon: str | None = None  # the server's version, when `docker info` worked
    daemon_error: str = ""
    compose: str | None = None  # `docker compose version`, when it worked
    compose_error: str = ""
    compose_v1: str | None = None  # `docker-compose version`, the standalone v1 (or v2) binary

    @property
    def usable(self) -> bool:
        return bool(self.cli and self.daemon and self.compose)


def command(args: Sequence[str]) -> subprocess.CompletedProcess:
    """Runs `args` to the end (or the timeout); a missing program or a timeout is exit code 127."""
    try:
        return subprocess.run(list(args), capture_output=True, text=True, errors="replace",
                              timeout=COMMAND_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(args), 127, "", f"{args[0]}: {exc}")


def error_of(result: subprocess.CompletedProcess) -> str:
    """The last line a failed command printed: where docker puts the cause."""
    text = (result.stderr or result.stdout).strip()
    return one_line(text.splitlines()[-1] if text else f"exit code {result.returncode}")


def compose_major(text: str) -> int | None:
    match = re.search(r"(\d+)\.\d+", text)
    return int(match[1]) if match else None


def inspect_docker() -> Docker:
    cli, v1 = shutil.which("docker"), shutil.which("docker-compose")
    # v1 prints its version on the first line, then those of its libraries.
    standalone = one_line((command([v1, "version"]).stdout.strip().splitlines() or ["?"])[0]) if v1 else None
    if cli is None:
        return Docker(cli=None, compose_v1=standalone)
    info = command([cli, "info", "--format", "{{.ServerVersion}}"])
    daemon = info.stdout.strip() if info.returncode == 0 and info.stdout.strip() else None
    version = command([cli, "compose", "version"])
    compose = version.stdout.strip() if version.returncode == 0 else None
    if compose and (compose_major(compose) or 0) < 2:
        compose, version.stderr = None, f"{compose} is not v2"
    return Docker(cli=cli, daemon=daemon, daemon_error="" if daemon else error_of(info),
                  compose=compose, compose_error="" if compose else error_of(version),
                  compose_v1=standalone)


def check_docker(docker: Docker) -> Finding:
    without = "meanwhile: make monitoring runs the stack without Docker (but without Grafana)"
    if docker.cli is None:
        return warn("docker", "not installed: make monitoring works without it; Grafana needs it",
                    "install Docker: Docker Desktop (macOS, Windows) or Docker Engine (Linux), "
                    "https://docs.docker.com/get-docker/", without)
    if docker.daemon is None:
        fix = ["start it: open Docker Desktop, or on Linux: sudo systemctl start docker"]
        if "permission denied" in docker.daemon_error.lower():
            fix.append("permission denied: sudo usermod -aG docker $USER, then log out and in again")
        return warn("docker", f"the CLI is installed but its daemon does not answer: {docker.daemon_error}",
                    *fix, without)
    return ok("docker", f"Docker {docker.daemon}, daemon reachable")


def check_compose(docker: Docker) -> Finding:
    if docker.cli is None and docker.compose_v1 is None:
        return skip("compose", "no Docker")
    if docker.compose:
        return ok("compose", docker.compose)
    install = ("install Compose v2: on Linux sudo apt-get install docker-compose-plugin (Docker's "
               "apt repository), on macOS and Windows update Docker Desktop")
    if docker.compose_v1 and (compose_major(docker.compose_v1) or 0) < 2:
        return warn("compose", f"only the old {docker.compose_v1}: the course needs Compose v2, "
                               "`docker compose` (a space, no hyphen)",
                    install, f"see {TROUBLESHOOTING}, Compose v1 vs v2")
    return warn("compose", f"`docker compose version` failed: {docker.compose_error}", install,
                f"see {TROUBLESHOOTING}, Compose v1 vs v2")


# --- the machine -----------------------------------------------------------------------------------

def check_python(version: tuple[int, ...] = tuple(sys.version_info)) -> Finding:
    found = f"{'.'.join(map(str, version[:3]))} ({sys.executable})"
    if version[:2] >= MIN_PYTHON:
        return ok("python", found)
    return fail("python", f"{found}: churn-monitoring needs Python 3.11 or newer",
                "install Python 3.11 or newer, then rebuild the venv: "
                "rm -rf .venv && make setup PYTHON=python3.11")


def pins(requirements: str) -> list[tuple[str, str, bool]]:
    """(distribution, pinned version, only on some platforms) of each `name==version` line."""
    found = []
    for line in requirements.splitlines():
        if match := PIN.match(line.split(" #")[0].strip()):
            found.append((match[1], match[2], match[3] is not None))
    return found


def check_packages(root: Path) -> Finding:
    """The pinned versions are the ones the examples were tested with, and the only ones that
    load a model trained by another checkout."""
    requirements = root / "requirements.txt"
    if not requirements.is_file():
        return skip("packages", f"no {requirements}")
    missing, other = [], []
    for name, pinned, conditional in pins(requirements.read_text(encoding="utf-8")):
        try:
            have = installed_version(name)
        except PackageNotFoundError:
            if not conditional:  # uvloop has no Windows build: its absence there is right
                missing.append(name)
            continue
        if have != pinned:
            other.append(f"{name} {have} (pinned {pinned})")
    install = f"{shown(Path(sys.executable), root)} -m pip install -r requirements.txt"
    if missing:
        return fail("packages", f"not installed: {', '.join(missing)}", install)
    if other:
        return warn("packages", f"not the tested versions: {', '.join(other)}", install)
    return ok("packages", "every package of requirements.txt installed at its pinned version")


def check_disk(root: Path) -> Finding:
    free = shutil.disk_usage(root).free
    found = f"{free / 1024**3:.1f} GB free where the project lives ({root})"
    if free >= MIN_FREE_BYTES:
        return ok("disk", found)
    return fail("disk", f"only {found}; the images, the model and Prometheus' data need about 2 GB",
                "docker system prune   (removes stopped containers, unused networks and dangling images)",
                "old model versions in models/ can go too (keep the one models/latest names)")


# --- the project -------------------------------------------------------------------------------------

def shown(path: Path, root: Path) -> str:
    """`path` relative to the project, as a student types it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1024**2:.1f} MB"


def check_data(settings: Settings) -> Finding:
    path = settings.data_path
    if path.is_file():
        return ok("data", f"{shown(path, settings.root_dir)} ({megabytes(path)})")
    return fail("data", f"{shown(path, settings.root_dir)} is missing",
                "make data/customers.csv   (10,000 synthetic customers; or put the real file there)",
                "make run makes the data, the model and the predictions, then serves")


def check_model(settings: Settings) -> Finding:
    root, models = settings.root_dir, settings.models_dir
    pointer = models / LATEST
    if not pointer.is_file():
        return fail("model", f"no trained model: {shown(pointer, root)} is missing",
                    "make models/latest   (trains on the data; make run makes data, model and "
                    "predictions, then serves)")
    version = pointer.read_text(encoding="utf-8").strip()
    retrain = f"retrain: {shown(Path(sys.executable), root)} scripts/train.py"
    try:
        metadata = read_metadata(models, version)
    except ChurnError as exc:
        return fail("model", str(exc), retrain)
    artifact = models / version / metadata.get("artifact", {}).get("file", ARTIFACT)
    if not artifact.is_file():
        return fail("model", f"model {version}: {shown(artifact, root)} is missing", retrain)
    # The registry refuses a pickle written by other versions of these; say so before the API does.
    recorded = metadata.get("library_versions", {})
    other = [f"{library} {recorded.get(library)} (installed: {installed_version(library)})"
             for library in PINNED_LIBRARIES if recorded.get(library) != installed_version(library)]
    if other:
        return fail("model", f"{version} was trained with {', '.join(other)}: the API will refuse it",
                    retrain, "then: make data/predictions.csv")
    return ok("model", f"{version} ({metadata.get('algorithm', '?')}, "
                       f"trained {metadata.get('trained_at', '?')})")


def check_predictions(settings: Settings) -> Finding:
    root, path = settings.root_dir, settings.predictions_path
    make = "make data/predictions.csv   (scores every customer with models/latest)"
    if not path.is_file():
        return fail("predictions", f"{shown(path, root)} is missing", make)
    inputs = [source for source in (settings.models_dir / LATEST, settings.data_path) if source.is_file()]
    newer = [shown(source, root) for source in inputs if source.stat().st_mtime > path.stat().st_mtime]
    if newer:
        return warn("predictions", f"{shown(path, root)} is older than {' and '.join(newer)}: "
                                   "the API serves scores of an earlier model or data", make)
    return ok("predictions", f"{shown(path, root)} ({megabytes(path)})")


def check_folder(name: str, folder: Path, root: Path) -> Finding:
    """Files written by a container or by `sudo make` belong to root: the next run cannot write."""
    own = f"sudo chown -R $USER {shown(folder, root)}   (see {TROUBLESHOOTING}, volume permissions)"
    try:
        check_writable(folder / ".doctor")
    except OutputError as exc:
        return fail(name, str(exc), own)
    locked = sorted(path.name for path in folder.iterdir()
                    if path.is_file() and not os.access(path, os.W_OK)) if folder.is_dir() else []
    if locked:
        return fail(name, f"{shown(folder, root)}: not writable: {', '.join(locked[:5])}", own)
    return ok(name, f"{shown(folder, root)} writable" + ("" if folder.is_dir() else " (made on first use)"))


# --- the running stack -------------------------------------------------------------------------------

def reload_command(settings: Settings, api: Component) -> str:
    token = settings.admin_token.get_secret_value()
    shown_token = "churn-demo" if token in ("", "churn-demo") else "<your CHURN_ADMIN_TOKEN>"
    return f"curl -X POST -H 'Authorization: Bearer {shown_token}' {api.address}/admin/reload"


def start_fix(service: str) -> tuple[str, ...]:
    component = "api" if service == "api" else service
    return (f"start it: docker compose up --wait {service} (Compose), or make monitoring (native)",
            f"why it stopped: docker compose logs {service}, or logs/native-stack/{component}.out")


def check_api_ready(context: "Context") -> Finding:
    api = context.components["api"]
    if context.probes["api"].state != "ours":
        return fail("api", f"{api.title} does not answer at {api.url}", *start_fix("api"))
    answer = get(f"{api.url}/ready")
    body = json_of(answer)
    if answer.status_code == 200:
        return ok("api", f"ready: model {body.get('model_version')}, "
                         f"{body.get('predictions_loaded', 0):,} predictions loaded")
    return fail("api", f"not ready ({answer.status_code}): {body.get('reason') or one_line(answer.text)}",
                "make data/predictions.csv   (natively; Compose's bootstrap makes them)",
                f"then load them: {reload_command(context.settings, api)}")


def compose_rows(text: str) -> list[dict]:
    """`docker compose ps --format json`: one object a line (Compose >= 2.21) or one array."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def expected_services(compose_file: Path) -> set[str]:
    """Every service an `up` starts: those under a profile (the load test) only run on demand."""
    services = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]
    return {name for name, service in services.items() if not service.get("profiles")}


def containers_finding(rows: list[dict], expected: set[str]) -> Finding:
    by_service = {row.get("Service"): row for row in rows}
    wrong, starting = [], []
    for service in sorted(expected):
        row = by_service.get(service)
        if row is None:
            wrong.append(f"{service} not created")
            continue
        state, health, code = row.get("State", "?"), row.get("Health") or "", row.get("ExitCode", 0)
        if service == "bootstrap":
            if state == "running":
                starting.append("bootstrap still running (first training takes a minute)")
            elif state != "exited" or code != 0:
                wrong.append(f"bootstrap {state} with code {code}")
        elif health == "starting" and state == "running":
            starting.append(f"{service} starting")
        elif state != "running" or health not in ("", "healthy"):
            wrong.append(f"{service} {state}" + (f" ({health})" if health else ""))
    if wrong:
        services = " ".join(sorted({problem.split()[0] for problem in wrong}))
        return fail("containers", "; ".join(wrong + starting),
                    f"why: docker compose logs {services}",
                    "then: docker compose up --wait   (starts what is missing, waits until healthy)",
                    f"a volume it cannot write, or one left from an older version: see {TROUBLESHOOTING}, "
                    "volume permissions and Compose start order")
    if starting:
        return warn("containers", "; ".join(starting),
                    "wait: docker compose up --wait returns once every service is healthy")
    return ok("containers", f"{len(expected)} services running and healthy, bootstrap exited 0")


def check_containers(context: "Context") -> Finding:
    docker, root = context.docker, context.settings.root_dir
    if not docker.usable:
        missing = ("Docker" if docker.cli is None else "answer from the Docker daemon"
                   if docker.daemon is None else "Compose v2")
        return skip("containers", f"no {missing}: no containers to ask")
    compose_file = root / "docker-compose.yml"
    if not compose_file.is_file():
        return skip("containers", f"no {compose_file}")
    listed = command([docker.cli, "compose", "-f", str(compose_file), "ps", "--all", "--format", "json"])
    if listed.returncode != 0:
        return fail("containers", f"docker compose ps failed: {error_of(listed)}",
                    f"see {TROUBLESHOOTING}, Compose v1 vs v2")
    rows = compose_rows(listed.stdout)
    if not rows:
        return skip("containers", "Compose does not run this project (the native stack, then)")
    return containers_finding(rows, expected_services(compose_file))


def targets_finding(targets: list[dict]) -> Finding:
    if not targets:
        return fail("targets", "Prometheus scrapes nothing",
                    "its configuration should be monitoring/prometheus/prometheus.yml: "
                    "docker compose logs prometheus")
    down = [target for target in targets if target.get("health") == "down"]
    if down:
        services = sorted({JOB_SERVICES.get(target["labels"].get("job"), "?") for target in down})
        return fail("targets", "down: " + "; ".join(
            f"{target['labels'].get('job')} {target['labels'].get('instance')}: "
            f"{tail(target.get('lastError') or 'no error given')}" for target in down),
            *start_fix(" ".join(services)))
    unknown = [target["labels"].get("job") for target in targets if target.get("health") != "up"]
    if unknown:
        return warn("targets", f"not scraped yet: {', '.join(unknown)}",
                    "wait one scrape interval (15 s), then run the doctor again")
    jobs = sorted({target["labels"].get("job") for target in targets})
    return ok("targets", f"{len(targets)} up ({', '.join(jobs)})")


def check_targets(context: "Context") -> Finding:
    prometheus = context.components["prometheus"]
    if context.probes["prometheus"].state != "ours":
        return fail("targets", f"Prometheus does not answer at {prometheus.url}", *start_fix("prometheus"))
    body = get(f"{prometheus.url}/api/v1/targets", params={"state": "active"}).json()
    return targets_finding(body["data"]["activeTargets"])


def check_honor_labels(context: "Context") -> Finding:
    prometheus = context.components["prometheus"]
    if context.probes["prometheus"].state != "ours":
        return skip("honor_labels", "Prometheus does not answer")
    body = get(f"{prometheus.url}/api/v1/query", params={"query": RELABELLED_QUERY}).json()
    return honor_labels_finding(body["data"]["result"], prometheus)


def honor_labels_finding(result: list[dict], prometheus: Component) -> Finding:
    """`result` of RELABELLED_QUERY: any series means the pushed job labels were overwritten."""
    relabelled = sorted({series["metric"].get("__name__", "?") for series in result})
    if relabelled:
        return fail("honor_labels", f"{len(relabelled)} pushed series carry job=\"pushgateway\" instead "
                                    f"of their job's name ({', '.join(relabelled[:3])}, ...)",
                    "add `honor_labels: true` to the pushgateway job of monitoring/prometheus/prometheus.yml",
                    f"then: curl -X POST {prometheus.address}/-/reload (Compose), or restart make monitoring",
                    f"see {TROUBLESHOOTING}, honor_labels")
    return ok("honor_labels", "pushed series keep their own job label")


def push_time(group: dict) -> float | None:
    samples = group.get("push_time_seconds", {}).get("metrics", [])
    return float(samples[0]["value"]) if samples else None


def group_path(labels: dict[str, str]) -> str:
    """The group's URL path on the Pushgateway: /metrics/job/<job>/<label>/<value>..."""
    rest = "".join(f"/{key}/{value}" for key, value in sorted(labels.items()) if key != "job")
    return f"/metrics/job/{labels.get('job', '')}{rest}"


def groups_findings(groups: list[dict], now: float, stale_after: float, pushgateway: Component,
                    python: str) -> list[Finding]:
    if not groups:
        return [warn("pushed groups", "nothing pushed yet: the model and batch panels stay empty",
                     f"{python} scripts/train.py && {python} scripts/predict_batch.py",
                     "(in Compose, the bootstrap service pushes them at docker compose up)")]
    fresh, findings = [], []
    for group in groups:
        labels, pushed = group.get("labels", {}), push_time(group)
        job = labels.get("job", "?")
        if pushed is None or now - pushed <= stale_after:
            fresh.append(f"{job} {ago(now - pushed) if pushed else ''}".strip())
            continue
        rerun = RERUN.get(job)
        findings.append(warn("pushed groups", f"{job} was pushed {ago(now - pushed)}: its values may "
                                              "no longer describe the model and data",
                             *([f"re-run the job: {python} {rerun}"] if rerun else []),
                             f"or delete the group: curl -X DELETE {pushgateway.address}{group_path(labels)}",
                             f"see {TROUBLESHOOTING}, stale Pushgateway values"))
    if fresh:
        findings.insert(0, ok("pushed groups", ", ".join(fresh)))
    return findings


def check_pushed_groups(context: "Context") -> Finding | list[Finding]:
    pushgateway = context.components["pushgateway"]
    if context.probes["pushgateway"].state != "ours":
        return fail("pushed groups", f"the Pushgateway does not answer at {pushgateway.url}",
                    *start_fix("pushgateway"))
    return groups_findings(context.pushed_groups, time.time(), context.stale_after, pushgateway,
                           context.python)


def pushed_group(groups: list[dict], job: str) -> dict:
    return next((group for group in groups if group.get("labels", {}).get("job") == job), {})


def pushed_sample(group: dict, metric: str) -> dict:
    """The first sample of `metric` in a group of the Pushgateway's API: {"labels", "value"}."""
    return next(iter(group.get(metric, {}).get("metrics", [])), {})


def promoted_since_training(groups: list[dict]) -> bool:
    """A retraining that promoted its model after training's push: the served model may be that one,
    which has no version on the Pushgateway (retraining pushes only its decision)."""
    training, retraining = pushed_group(groups, JOB_TRAINING), pushed_group(groups, JOB_RETRAINING)
    promoted = pushed_sample(retraining, "model_retraining_promoted").get("value") == "1"
    return promoted and (push_time(retraining) or 0) > (push_time(training) or 0)


def check_served_model(context: "Context") -> Finding:
    """Training pushes the version it registered; an API that was not reloaded serves an older one."""
    api = context.components["api"]
    if context.probes["api"].state != "ours" or context.probes["pushgateway"].state != "ours":
        return skip("served model", "the API or the Pushgateway does not answer")
    answer = get(f"{api.url}/model")
    if not answer.ok:
        return skip("served model", f"the API serves no model yet ({answer.status_code})")
    served = json_of(answer).get("version")
    groups = context.pushed_groups
    trained = pushed_sample(pushed_group(groups, JOB_TRAINING), "model_version_info").get(
        "labels", {}).get("version")
    if trained is None:
        return skip("served model", f"the API serves {served}; training has not pushed model_version_info")
    if served == trained:
        return ok("served model", f"{served}, the model training registered last")
    since = "; a retraining promoted a model since, which may be the one served" \
        if promoted_since_training(groups) else ""
    return warn("served model", f"the API serves {served}, but training registered {trained} last{since}",
                f"load the latest: {reload_command(context.settings, api)}",
                "or restart the API: docker compose restart api (Compose), or stop and start "
                "make monitoring or make run")


def grafana_login(root: Path) -> tuple[str, str]:
    """GRAFANA_ADMIN_USER/PASSWORD from the environment, else from .env as Compose reads it,
    else the demo default admin/admin."""
    dotenv = {}
    if (root / ".env").is_file():
        for line in (root / ".env").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            dotenv[key.strip()] = value.strip().strip("'\"")
    user, password = (os.environ.get(key) or dotenv.get(key) or "admin"
                      for key in ("GRAFANA_ADMIN_USER", "GRAFANA_ADMIN_PASSWORD"))
    return user, password


def datasource_finding(answer: requests.Response, user: str) -> Finding:
    body = json_of(answer)
    message = one_line(str(body.get("message") or answer.text or answer.status_code))
    if answer.status_code == 200 and body.get("status") == "OK":
        return ok("grafana", f"datasource uid prometheus healthy: {message}")
    if answer.status_code in (401, 403):
        return fail("grafana", f"Grafana refused the login {user!r} ({answer.status_code})",
                    "export GRAFANA_ADMIN_USER and GRAFANA_ADMIN_PASSWORD (the values of .env)",
                    "Grafana keeps its first admin password in its volume; reset it: "
                    "docker compose exec grafana grafana cli admin reset-admin-password <password>")
    if answer.status_code == 404:
        return fail("grafana", f"no datasource with uid prometheus ({message}): every panel names "
                               "its datasource by that uid",
                    "monitoring/grafana/provisioning/datasources/datasources.yml must say uid: prometheus",
                    "then: docker compose restart grafana",
                    f"see {TROUBLESHOOTING}, datasource uids")
    return fail("grafana", f"datasource uid prometheus unhealthy ({answer.status_code}): {message}",
                "Grafana queries http://prometheus:9090 inside Compose: docker compose ps prometheus",
                "docker compose logs grafana")


def check_grafana(context: "Context") -> Finding:
    grafana = context.components["grafana"]
    if context.probes["grafana"].state != "ours":
        return warn("grafana", f"no Grafana at {grafana.url}: it runs only in the Compose stack",
                    "docker compose up --wait   (make monitoring has no Grafana)")
    user, password = grafana_login(context.settings.root_dir)
    answer = get(f"{grafana.url}/api/datasources/uid/prometheus/health", auth=(user, password))
    return datasource_finding(answer, user)


# --- running the checks --------------------------------------------------------------------------------

Check = Callable[[], "Finding | list[Finding]"]


@dataclass
class Context:
    """What several checks ask about, each found once and only when a check needs it."""

    settings: Settings
    stale_after: float = DAY_SECONDS
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))

    @cached_property
    def components(self) -> dict[str, Component]:
        return components(self.settings, self.ports)

    @cached_property
    def probes(self) -> dict[str, Probe]:
        return {key: probe(component) for key, component in self.components.items()}

    @cached_property
    def docker(self) -> Docker:
        return inspect_docker()

    @cached_property
    def pushed_groups(self) -> list[dict]:
        return get(f"{self.components['pushgateway'].url}/api/v1/metrics").json()["data"]

    @property
    def python(self) -> str:
        return shown(Path(sys.executable), self.settings.root_dir)


def machine_checks(context: Context) -> list[tuple[str, Check]]:
    root = context.settings.root_dir
    checks: list[tuple[str, Check]] = [
        ("python", check_python),
        ("packages", lambda: check_packages(root)),
        ("docker", lambda: check_docker(context.docker)),
        ("compose", lambda: check_compose(context.docker)),
        ("disk", lambda: check_disk(root)),
    ]
    for key, component in context.components.items():
        checks.append((f"port {component.port}",
                       lambda key=key, component=component: check_port(component, context.probes[key])))
    return checks


def project_checks(context: Context) -> list[tuple[str, Check]]:
    settings = context.settings
    return [
        ("data", lambda: check_data(settings)),
        ("model", lambda: check_model(settings)),
        ("predictions", lambda: check_predictions(settings)),
        ("logs dir", lambda: check_folder("logs dir", settings.logs_dir, settings.root_dir)),
        ("multiproc dir", lambda: check_folder("multiproc dir", settings.multiprocess_dir,
                                               settings.root_dir)),
    ]


def stack_checks(context: Context) -> list[tuple[str, Check]]:
    """Nothing of the stack answering is one warning, not a wall of failures."""
    servers = [component for key, component in context.components.items() if key != "grafana"]
    if not any(context.probes[component.key].state == "ours" for component in servers):
        return [("stack", lambda: warn(
            "stack", "not running: nothing answers at " + ", ".join(c.address for c in servers),
            "make monitoring   (without Docker; no Grafana)",
            "or: docker compose up --wait   (everything, Grafana too; needs Docker)"))]
    return [("api", lambda: check_api_ready(context)),
            ("containers", lambda: check_containers(context)),
            ("targets", lambda: check_targets(context)),
            ("honor_labels", lambda: check_honor_labels(context)),
            ("pushed groups", lambda: check_pushed_groups(context)),
            ("served model", lambda: check_served_model(context)),
            ("grafana", lambda: check_grafana(context))]


CHECKS: dict[str, Callable[[Context], list[tuple[str, Check]]]] = {
    "machine": machine_checks, "project": project_checks, "stack": stack_checks}


def checks_of(section: str, context: Context) -> list[tuple[str, Check]]:
    """The section's checks; a section that cannot even list them (a settings URL with a port
    out of range, say) is one broken check."""
    try:
        return CHECKS[section](context)
    except Exception as exc:
        error = exc  # `exc` itself is gone once the except block ends

        def broken() -> Finding:
            raise error

        return [(section, broken)]


def run_checks(checks: Sequence[tuple[str, Check]]) -> Iterator[Finding]:
    """Each check's findings; a check that raises is a FAIL naming the error, and the rest still run."""
    for name, check in checks:
        try:
            result = check()
        except Exception as exc:  # the doctor runs when things are broken: report, never crash
            yield fail(name, f"the check itself failed: {exc.__class__.__name__}: {one_line(str(exc))}",
                       "if the error names a value of yours (a URL, a path), correct it in "
                       "config/settings.toml or its CHURN_* variable;",
                       "else run the doctor again, and report this line if it stays")
            continue
        yield from result if isinstance(result, list) else [result]


def report(context: Context, sections: Sequence[str], out: TextIO) -> int:
    """Prints every section's findings as they come; returns the exit code."""
    counts = dict.fromkeys(MARKS, 0)
    print(f"churn-monitoring doctor, project {context.settings.root_dir}", file=out)
    for section in (name for name in SECTIONS if name in sections):
        print(f"\n{section}", file=out)
        for finding in run_checks(checks_of(section, context)):
            counts[finding.status] += 1
            print("\n".join(finding.lines()), file=out, flush=True)
    verdict = ("fix the FAIL lines, top first" if counts["FAIL"]
               else "ready; the warn lines are worth a look" if counts["warn"] else "ready")
    print(f"\n{counts['FAIL']} FAIL, {counts['warn']} warn, {counts['ok']} ok, {counts['skip']} skip: "
          f"{verdict}", file=out)
    return 1 if counts["FAIL"] else 0


def stale_duration(text: str) -> float:
    """An argparse type: a duration such as 12h or 1d, in seconds."""
    try:
        return float(seconds_of(text))
    except ChurnError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(sections: Sequence[str] = SECTIONS, stale_after: float = DAY_SECONDS,
         out: TextIO | None = None) -> int:
    """Loads the settings in force (CHURN_* variables included) and reports; exit code 0 or 1."""
    out = out or sys.stdout
    try:
        settings = load_settings()
    except SettingsError as exc:
        print("\n".join(fail("settings", str(exc), "correct the value in config/settings.toml or the "
                             "CHURN_* variable it names (env | grep CHURN_)").lines()), file=out)
        return 1
    try:
        return report(Context(settings, stale_after), sections, out)
    except KeyboardInterrupt:
        print("\ninterrupted", file=out)
        return 130
    except BrokenPipeError:
        # `doctor.py | head`: the reader has gone. Python's own advice: point stdout at devnull, so
        # that flushing it at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
