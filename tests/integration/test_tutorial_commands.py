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
- the solution pages (tutorial/solutions/) are not run here: their commands need their diffs
  applied, which tests/integration/test_exercises.py does, on a stack of its own;
- then every ```promql query goes to Prometheus's /api/v1/query: valid everywhere, and with data
  unless the block is ```promql no-data.

The runner is tests/integration/console.py, which says why it is a small one of our own.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from churn.ops.native_stack import NativeStack, push_kept_metrics
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
from tests.integration.console import (
    CHECKER,
    OPTIONS,
    command_env,
    run,
    to_default_ports,
    to_stack_ports,
    working_copy_stack,
)
from tests.integration.processes import started_stack

pytestmark = pytest.mark.slow
TOKEN = "churn-demo"  # the Compose stack's admin token, which the pages use
PAGES = tutorial_pages()
SOLUTIONS = REPO / "tutorial" / "solutions"
GRAFANA = re.compile(r"\b(?:localhost|127\.0\.0\.1):3000\b")




def console(page: Path) -> list[Command]:
    return [command for block in blocks_of(page) if block.language == "console"
            for command in console_commands(block)]


def promql(page: Path) -> list[tuple[Block, str]]:
    return [(block, query) for block in blocks_of(page) if block.language == "promql"
            for query in promql_queries(block)]


CONSOLE_PAGES = [page for page in PAGES if page.parent != SOLUTIONS
                 and any(not GRAFANA.search(c.command) for c in console(page))]
PROMQL_PAGES = [page for page in PAGES if promql(page)]
GRAFANA_COMMANDS = [command for page in PAGES for command in console(page) if GRAFANA.search(command.command)]


# --- The project and the stack ----------------------------------------------------------------


def script(name: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{name} {' '.join(args)} failed:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def stack(student_project, tmp_path_factory) -> Iterator[NativeStack]:
    """The native stack over a copy of the project. Its processes import the copy's src/ (the
    copy's settings, runbooks and any solution applied) and Prometheus loads the copy's rules."""
    with started_stack(working_copy_stack(student_project, tmp_path_factory.mktemp("root"), TOKEN)) as native:
        yield native


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
        load_test(stack, "--scenario", "mixed", "--duration", "10")
        load_test(stack, "--scenario", "errors", "--duration", "5")
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
    """The stack, every component running (a page may have left one stopped or crashed), and
    Prometheus sending to Alertmanager again (a page may have reloaded its configuration, which
    empties its list of Alertmanagers for a moment)."""
    if stack.restart_stopped():
        stack.wait_for('up{job="api-churn"} == 1')
    stack.wait_until(lambda: requests.get(f"{stack.url('prometheus')}/api/v1/alertmanagers", timeout=5)
                     .json()["data"]["activeAlertmanagers"], "Prometheus sending to Alertmanager")
    return stack


# --- Commands: ports, running, output ----------------------------------------------------------

# --- The tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", CONSOLE_PAGES, ids=relative)
def test_console_blocks_run_as_written(page, running):
    failures = []
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
