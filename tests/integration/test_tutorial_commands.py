"""The tutorial's ```console and ```promql blocks, run against a live native stack as a student's
project would have it after the first `make run`, a retraining and a load test.

The project is the one a student's first `make run` builds (tests/conftest.py's student_project:
the default 10,000 customers, seed 42, a trained model, batch predictions), and the native stack
starts over a copy of it on free ports. Before the pages run, "the standard scenario" happens: the
training and batch metrics that the jobs kept are pushed (as `make monitoring` does on its first
start), new customers retrain the model, the batch is scored again and the API reloads, and the
load test sends its mixed and errors scenarios; then Prometheus has scraped all of it.

Each page is one test, in course order (tutorial_pages), all on the one stack:

- every `$ ` command of its ```console blocks runs with `bash -o pipefail -c` from the project
  root, `localhost:<port>` and `127.0.0.1:<port>` of DESIGN.md rewritten to the stack's ports
  (and back in the output); it must exit 0, and print what the page shows below it, compared by
  doctest's OutputChecker with ELLIPSIS (`...` is anything) and NORMALIZE_WHITESPACE. A command
  with nothing below it is only required to succeed. Commands against Grafana (port 3000) cannot
  run here, since the native stack has no Grafana: each is a skipped test that says so.
- a solution page (tutorial/solutions/) runs with its ```diff blocks applied to the project, and
  the API restarted when they change its code or settings; both undone after the page.
- then every ```promql query goes to Prometheus's /api/v1/query: valid everywhere, and with data
  unless the block is ```promql no-data.

Why a small runner and not byexample, prysk or pytest-codeblocks: the commands must run against a
stack on free ports (tests run beside a student's stack on the real ones), so each command and its
output need the ports rewritten, which none of them can do; what is left (split blocks, run bash,
compare with `...`) is the standard library's doctest.OutputChecker and a subprocess.
"""

import doctest
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from churn.ops.native_stack import DEFAULT_PORTS, NativeStack, push_kept_metrics
from tests.contract.markdown_blocks import (
    Block,
    Command,
    blocks_of,
    console_commands,
    promql_queries,
    relative,
    tutorial_pages,
)
from tests.helpers import REPO, settings_for
from tests.integration.processes import native_stack

pytestmark = pytest.mark.slow
TOKEN = "churn-demo"  # the Compose stack's admin token, which the pages use
PAGES = tutorial_pages()
SOLUTIONS = REPO / "tutorial" / "solutions"
COMMAND_TIMEOUT = 300
GRAFANA = re.compile(r"\b(?:localhost|127\.0\.0\.1):3000\b")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


class Checker(doctest.OutputChecker):
    """doctest's, where a line holding only `...` also stands for no line at all: it is joined to
    the line before it (or, first, to the one after), since with NORMALIZE_WHITESPACE the line
    breaks around it would each need some whitespace in the output."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        lines: list[str] = []
        glue = False
        for line in want.splitlines():
            if line.strip() == "...":
                if lines:
                    lines[-1] += "..."
                else:
                    glue = True
            else:
                lines.append(("..." if glue else "") + line)
                glue = False
        want = "\n".join(lines) + ("..." if glue else "") + "\n"
        return super().check_output(want, got, optionflags)


CHECKER = Checker()
# What the project root holds besides the data, models and logs of the built project: copies, since
# a solution's diff may change them; tests/ only read.
COPIED = ("src", "scripts", "config", "monitoring", "tutorial", "benchmarks", "Makefile", "Dockerfile",
          "docker-compose.yml", "README.md", "pyproject.toml", "requirements.txt", "requirements-dev.txt",
          ".env.example")
# A diff touching these changes what the running API loaded: it is restarted.
API_INPUTS = ("src/", "config/")


def console(page: Path) -> list[Command]:
    return [command for block in blocks_of(page) if block.language == "console"
            for command in console_commands(block)]


def promql(page: Path) -> list[tuple[Block, str]]:
    return [(block, query) for block in blocks_of(page) if block.language == "promql"
            for query in promql_queries(block)]


CONSOLE_PAGES = [page for page in PAGES if any(not GRAFANA.search(c.command) for c in console(page))]
PROMQL_PAGES = [page for page in PAGES if promql(page)]
GRAFANA_COMMANDS = [command for page in PAGES for command in console(page) if GRAFANA.search(command.command)]


# --- The project and the stack ----------------------------------------------------------------


def script(name: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{name} {' '.join(args)} failed:\n{result.stderr}"
    return result


def project_root(root: Path) -> None:
    """`root` (holding the project's data, models and logs) made into a copy of the repository, so
    that commands run from it exactly as written: `.venv/bin/python` is this interpreter."""
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.is_file():
            shutil.copy2(source, root / name)
    (root / "tests").symlink_to(REPO / "tests")
    if sys.prefix != sys.base_prefix:  # a virtual environment: the same one
        (root / ".venv").symlink_to(sys.prefix)
    else:
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "python").symlink_to(sys.executable)


@pytest.fixture(scope="module")
def stack(student_project, tmp_path_factory) -> Iterator[NativeStack]:
    """The native stack over a copy of the project. Its processes import the copy's src/ (the
    copy's settings, runbooks and any solution applied) and Prometheus loads the copy's rules."""
    root = tmp_path_factory.mktemp("root")
    native = native_stack(student_project, root, rules_dir=root / "monitoring" / "prometheus" / "rules",
                          CHURN_ADMIN_TOKEN=TOKEN, CHURN_DEMO_FAULTS="true", PYTHONPATH=str(root / "src"))
    native.root = root
    project_root(root)
    try:
        native.start_all()
        # Traffic before Prometheus's first scrape would only be a counter's first value.
        native.wait_for('up{job="api-churn"} == 1')
        yield native
    finally:
        native.stop_all()


def command_env(stack: NativeStack) -> dict[str, str]:
    """The stack's environment, with the URLs written as the default settings write them."""
    return stack.env | {f"CHURN_{name.upper()}_URL": f"http://localhost:{stack.ports[name]}"
                        for name in ("api", "prometheus", "pushgateway", "alertmanager")}


def pushed_since(stack: NativeStack, job: str, started: float) -> bool:
    times = stack.query(f'push_time_seconds{{job="{job}", instance=""}}')
    return bool(times) and float(times[0]["value"][1]) >= started


def load_test(stack: NativeStack, *args: str) -> None:
    script("load_test.py", "--url", stack.url("api"), "--no-progress", "--token", TOKEN, *args,
           env=command_env(stack))


@pytest.fixture(scope="module")
def scenario(stack) -> float:
    """The standard scenario; returns how long it took. Retraining (a minute of CPU) runs while the
    load test sends its traffic."""
    began = time.monotonic()
    env = command_env(stack)
    started = time.time()
    pushed = push_kept_metrics(settings_for(stack.root), stack.url("pushgateway"))
    assert pushed == ["churn-training", "churn-batch-prediction"], pushed
    for job in pushed:
        stack.wait_until(lambda job=job: pushed_since(stack, job, started), f"{job} scraped")
    # Ids and a file name that no page uses: a page retraining on its own new customers must find
    # them new.
    new = stack.root / "data" / "scenario_new_customers.csv"
    script("generate_data.py", "--rows", "1000", "--seed", "3", "--first-id", "16500000", "--out", str(new),
           env=env)
    retrain = [sys.executable, str(REPO / "scripts" / "retrain.py"), "--new-data", str(new)]
    output = stack.workdir / "retrain.out"
    with output.open("wb") as sink:
        retraining = subprocess.Popen(retrain, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        load_test(stack, "--scenario", "mixed", "--duration", "15")
        load_test(stack, "--scenario", "errors", "--duration", "10")
        traffic_ended = time.time()
        retraining.wait(timeout=600)
    finally:
        if retraining.poll() is None:
            retraining.kill()
            retraining.wait()
    assert retraining.returncode == 0, f"retrain.py failed:\n{output.read_text()}"
    started = time.time()
    script("predict_batch.py", env=env)
    # As the pages say to after a retraining: the API serves the new model and predictions.
    reload = requests.post(f"{stack.url('api')}/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"},
                           timeout=60)
    assert reload.ok, reload.text
    for job in ("churn-retraining", "churn-batch-prediction"):
        stack.wait_until(lambda job=job: pushed_since(stack, job, started if "batch" in job else 0),
                         f"{job} scraped")
    # The API scraped after the traffic, then the rules evaluated after that scrape.
    scraped = stack.wait_for(f'timestamp(up{{job="api-churn"}}) > {traffic_ended}')
    stack.wait_for(f"timestamp(job:api_requests:rate5m) > {scraped[0]['value'][1]}")
    return time.monotonic() - began


@pytest.fixture
def running(stack, scenario) -> NativeStack:
    """The stack, every component running (a page may have left one stopped or crashed)."""
    if stack.restart_stopped():
        stack.wait_for('up{job="api-churn"} == 1')
    return stack


# --- Commands: ports, running, output ----------------------------------------------------------

DEFAULT_TO_COMPONENT = {port: name for name, port in DEFAULT_PORTS.items()}
ADDRESS = re.compile(r"\b(localhost|127\.0\.0\.1):(\d+)\b")


def to_stack_ports(text: str, ports: dict[str, int]) -> str:
    """localhost:9090 -> localhost:<the stack's Prometheus port>, and so on for every component."""
    def local(match: re.Match) -> str:
        component = DEFAULT_TO_COMPONENT.get(int(match[2]))
        return f"{match[1]}:{ports[component]}" if component else match[0]

    return ADDRESS.sub(local, text)


def to_default_ports(text: str, ports: dict[str, int]) -> str:
    """The other way, in a command's output: the stack's ports shown as DESIGN.md's."""
    back = {port: DEFAULT_PORTS[name] for name, port in ports.items()}
    return ADDRESS.sub(lambda match: f"{match[1]}:{back.get(int(match[2]), match[2])}", text)


def run(command: Command, stack: NativeStack) -> str | None:
    """Runs one command as the page writes it; what went wrong, or None."""
    local = to_stack_ports(command.command, stack.ports)
    began = time.monotonic()
    try:
        result = subprocess.run(["bash", "-o", "pipefail", "-c", local], cwd=stack.root,
                                env=command_env(stack), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as timeout:
        return f"did not finish within {COMMAND_TIMEOUT} s; its output so far:\n{indent(str(timeout.output))}"
    got = to_default_ports(result.stdout, stack.ports)
    took = f"(after {time.monotonic() - began:.1f} s)"
    print(f"{command.where} {took}: $ {command.command}")  # shown by pytest -s or -rP, to find slow ones
    if result.returncode != 0:
        return f"exit code {result.returncode} {took}; its output:\n{indent(got)}"
    if command.expected and not CHECKER.check_output(command.expected + "\n", got, OPTIONS):
        return f"unexpected output {took}\n  expected:\n{indent(command.expected)}\n  got:\n{indent(got)}"
    return None


def indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip("\n").splitlines()) or "    (nothing)"


# --- Solutions: their diff applied for the page ------------------------------------------------


def file_changes(diff: str) -> list[tuple[str, list[tuple[int, list[str]]] | None]]:
    """(path, hunks) of each file of a `git diff`; a hunk is (its first old line, its lines, each
    with its ' ', '-' or '+'). A deleted file has None for hunks."""
    changes: list[tuple[str, list | None]] = []
    old = None
    for line in diff.splitlines():
        if line.startswith("--- "):
            old = line[4:].removeprefix("a/")
        elif line.startswith("+++ "):
            new = line[4:]
            changes.append((old, None) if new == "/dev/null" else (new.removeprefix("b/"), []))
        elif not changes or changes[-1][1] is None:
            continue
        elif hunk := re.match(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@", line):
            changes[-1][1].append((int(hunk[1]), []))
        elif changes[-1][1] and (line[:1] in {" ", "-", "+"} or line == ""):
            changes[-1][1][-1][1].append(line or " ")
    return changes


def patched(text: str, hunks: list[tuple[int, list[str]]], where: str) -> str:
    """`text` with the hunks applied, each where its old lines are (near the line it names)."""
    lines = text.splitlines()
    offset = 0
    for start, hunk in hunks:
        before = [line[1:] for line in hunk if line[0] in " -"]
        after = [line[1:] for line in hunk if line[0] in " +"]
        expected = max(start - 1 + offset, 0) if before else max(start + offset, 0)
        places = [at for at in range(len(lines) - len(before) + 1) if lines[at:at + len(before)] == before]
        if not places:
            raise AssertionError(f"{where}: the hunk at line {start} does not apply: its lines are not there")
        at = min(places, key=lambda place: abs(place - expected))
        lines[at:at + len(before)] = after
        offset += len(after) - len(before)
    return "\n".join(lines) + "\n" if lines else ""


@contextmanager
def solution_applied(page: Path, stack: NativeStack) -> Iterator[None]:
    """A solution page's ```diff blocks applied to the project root, undone afterwards; the API
    restarted both times if they change its code or settings."""
    solution = page.parent == SOLUTIONS
    diffs = [block for block in blocks_of(page) if block.language == "diff"] if solution else []
    saved: dict[Path, str | None] = {}
    try:
        for block in diffs:
            for path, hunks in file_changes(block.text):
                target = stack.root / path
                saved.setdefault(target, target.read_text() if target.is_file() else None)
                if hunks is None:
                    target.unlink(missing_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                current = target.read_text() if target.is_file() else ""
                target.write_text(patched(current, hunks, f"{relative(page)}:{block.line}: {path}"))
                if path.endswith(".sh"):
                    target.chmod(0o755)
        if touches_api(saved, stack):
            restart_api(stack)
        yield
    finally:
        for target, text in saved.items():
            if text is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(text)
        if touches_api(saved, stack):
            restart_api(stack)


def touches_api(paths, stack: NativeStack) -> bool:
    return any(str(path.relative_to(stack.root)).startswith(API_INPUTS) for path in paths)


def restart_api(stack: NativeStack) -> None:
    stack.stop("api")
    stack.start("api")
    stack.wait_for(f'up{{job="api-churn"}} == 1 and timestamp(up{{job="api-churn"}}) > {time.time()}')


# --- The tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", CONSOLE_PAGES, ids=relative)
def test_console_blocks_run_as_written(page, running):
    failures = []
    with solution_applied(page, running):
        for command in console(page):
            if GRAFANA.search(command.command):
                continue  # test_commands_against_grafana_are_not_run says so
            if (failure := run(command, running)) is not None:
                failures.append(f"{command.where}: $ {command.command}\n  {failure}")
    assert not failures, f"{len(failures)} of the page's commands failed:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("page", PROMQL_PAGES, ids=relative)
def test_promql_blocks_are_valid_and_return_data(page, running):
    failures = []
    for block, query in promql(page):
        body = requests.get(f"{running.url('prometheus')}/api/v1/query", params={"query": query},
                            timeout=30).json()
        where = f"{relative(block.path)}:{block.line}: {query}"
        if body.get("status") != "success":
            failures.append(f"{where}\n    {body.get('errorType')}: {body.get('error')}")
        elif block.info == "promql" and not body["data"]["result"]:
            failures.append(f"{where}\n    no data (mark it ```promql no-data if that is right)")
    assert not failures, f"{len(failures)} queries failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("command", GRAFANA_COMMANDS, ids=lambda command: command.where)
def test_commands_against_grafana_are_not_run(command):
    pytest.skip(f"not run: the native stack has no Grafana (localhost:3000): $ {command.command}")


# --- The runner's own parts, on small inputs ---------------------------------------------------

PORTS = {"api": 41000, "prometheus": 41001, "pushgateway": 41002, "alertmanager": 41003,
         "receiver": 41004, "blackbox": 41005}


def test_ports_are_rewritten_in_commands_and_back_in_output():
    command = ("curl -s 'localhost:9090/api/v1/query' && curl 127.0.0.1:8000/health "
               "localhost:3000/d/x localhost:9095/runbooks/api-down")
    assert to_stack_ports(command, PORTS) == (
        "curl -s 'localhost:41001/api/v1/query' && curl 127.0.0.1:41000/health "
        "localhost:3000/d/x localhost:41004/runbooks/api-down")
    assert to_default_ports("load test of http://localhost:41000 (127.0.0.1:41001)", PORTS) == (
        "load test of http://localhost:8000 (127.0.0.1:9090)")


def test_expected_output_is_matched_with_ellipsis_and_any_whitespace():
    assert CHECKER.check_output('{"status": "ready", ...}\n', '{"status":  "ready", "model": "x"}\n', OPTIONS)
    assert CHECKER.check_output("a\n...\nc\n", "a\nb\nb\nc\n", OPTIONS)
    assert not CHECKER.check_output("a\nc\n", "a\nb\nc\n", OPTIONS)
    # A line of `...` may stand for no line, first, last or between two.
    for got in ("a\nc\n", "a\nb\nc\n"):
        assert CHECKER.check_output("...\na\n...\nc\n...\n", got, OPTIONS)
    assert CHECKER.check_output("...\n", "", OPTIONS)
    assert not CHECKER.check_output("a\n...\nc\n", "a\nb\n", OPTIONS)


def test_a_command_fails_on_its_exit_code_or_output_and_says_what_it_got(tmp_path):
    stand_in = SimpleNamespace(ports=PORTS, root=tmp_path, env={"PATH": os.environ["PATH"]})
    page = tmp_path / "page.md"
    assert run(Command(page, 3, "echo http://localhost:41000/docs; echo b", "http://localhost:8000/...\n..."),
               stand_in) is None
    assert run(Command(page, 3, "printf 'x\\n'", ""), stand_in) is None
    wrong = run(Command(page, 3, "echo 7", "8"), stand_in)
    assert wrong.startswith("unexpected output") and wrong.endswith("expected:\n    8\n  got:\n    7")
    # pipefail: a failing command before a pipe fails the line.
    assert run(Command(page, 3, "false | cat", ""), stand_in).startswith("exit code 1")
    # The stack's URLs, written as the default settings write them, reach the command.
    assert run(Command(page, 3, "echo $CHURN_PROMETHEUS_URL", "http://localhost:9090"), stand_in) is None


def test_a_git_diff_is_applied_as_git_would(tmp_path):
    diff = """diff --git a/config/x.toml b/config/x.toml
index 1..2 100644
--- a/config/x.toml
+++ b/config/x.toml
@@ -2,3 +2,3 @@ header
 b = 1

-c = 2
+c = 3
diff --git a/new.sh b/new.sh
new file mode 100755
--- /dev/null
+++ b/new.sh
@@ -0,0 +1,2 @@
+#!/bin/bash
+echo hi
"""
    (config, new) = file_changes(diff)
    assert config == ("config/x.toml", [(2, [" b = 1", " ", "-c = 2", "+c = 3"])])
    assert new == ("new.sh", [(0, ["+#!/bin/bash", "+echo hi"])])
    # The hunk applies where its lines are, even a few lines from where it says.
    moved = "a = 0\nextra\nb = 1\n\nc = 2\nd = 4\n"
    assert patched(moved, config[1], "x") == "a = 0\nextra\nb = 1\n\nc = 3\nd = 4\n"
    assert patched("", new[1], "x") == "#!/bin/bash\necho hi\n"
    with pytest.raises(AssertionError, match="does not apply"):
        patched("b = 2\n", config[1], "x")
