"""The course's exercises check themselves, as rustlings' own CI proves of its exercises: every
check fails on the project as shipped, and passes once its solution is applied as a student would
apply it (tutorial/solutions/<id>.md: its diffs, then its console commands).

All of it runs on a copy of the repository over a student's first `make run`, against the real
stack started from that copy, with the checker run as a student runs it.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from churn.course.exercises import load_exercises
from churn.errors import ChurnError
from churn.ops.native_stack import NativeStack
from tests.contract.markdown_blocks import blocks_of, console_commands
from tests.helpers import REPO
from tests.integration.console import apply_solution, command_env, run, working_copy_stack
from tests.integration.processes import started_stack

pytestmark = pytest.mark.slow
EXERCISES = load_exercises()
SOLUTIONS = REPO / "tutorial" / "solutions"


@pytest.fixture(scope="module")
def course(student_project, tmp_path_factory) -> NativeStack:
    """The stack over a student's working copy: the API and the checker import its src/, and
    Prometheus loads its rule files."""
    root = tmp_path_factory.mktemp("course")
    with started_stack(working_copy_stack(student_project, root, "churn-demo")) as stack:
        yield stack


def exercise(stack: NativeStack, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """scripts/exercise.py run as a student runs it, from their working copy."""
    return subprocess.run([sys.executable, "scripts/exercise.py", *args], cwd=stack.root,
                          env=env or command_env(stack), capture_output=True, text=True, timeout=120,
                          check=False)


def solution(exercise_id: str) -> Path:
    return SOLUTIONS / f"{exercise_id}.md"


def run_solution_commands(stack: NativeStack, exercise_id: str) -> None:
    for block in blocks_of(solution(exercise_id)):
        if block.language == "console":
            for command in console_commands(block):
                problem = run(command, stack)
                assert problem is None, f"{command.where}: $ {command.command}\n{problem}"


def test_every_exercise_has_a_solution_page_and_a_starting_point():
    assert {path.stem for path in (REPO / "tutorial" / "solutions").glob("*.md")} == set(EXERCISES)
    for exercise_id in EXERCISES:
        blocks = blocks_of(solution(exercise_id))
        assert any(block.language in {"diff", "console"} for block in blocks), exercise_id


def test_every_check_fails_as_shipped_then_passes_with_its_solution(course):
    for exercise_id in EXERCISES:
        result = exercise(course, "check", exercise_id)
        assert result.returncode == 1 and result.stdout.startswith(f"FAIL  {exercise_id}"), result.stdout
        assert re.search(r"^  expected: .+\n  found: .+\n  hint 1/\d: .+", result.stdout, re.M), result.stdout

    for exercise_id in EXERCISES:
        apply_solution(solution(exercise_id), course.root)
    # The new metric is code: the API runs it once restarted, as the solution says.
    course.stop("api")
    course.start("api")
    for exercise_id in EXERCISES:
        run_solution_commands(course, exercise_id)

    passed: set[str] = set()
    failing: dict[str, str] = {}

    def all_pass() -> bool:
        """Polled: a scrape, a push or a rule reload reaches Prometheus some seconds later."""
        for exercise_id in [exercise_id for exercise_id in EXERCISES if exercise_id not in passed]:
            result = exercise(course, "check", exercise_id)
            if result.returncode == 0:
                passed.add(exercise_id)
                failing.pop(exercise_id, None)
            else:
                failing[exercise_id] = result.stdout + result.stderr
        return len(passed) == len(EXERCISES)

    try:
        course.wait_until(all_pass, "every exercise passing with its solution", timeout=90)
    except ChurnError:
        pytest.fail("still failing with their solutions:\n" + "\n".join(failing.values()))
    progress = exercise(course, "list")
    assert f"{len(EXERCISES)} of {len(EXERCISES)} passed" in progress.stdout


def test_a_check_says_which_part_of_the_stack_does_not_answer(course):
    result = exercise(course, "check", "silence",
                      env=command_env(course) | {"CHURN_ALERTMANAGER_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1
    assert "the alertmanager answering at http://127.0.0.1:9" in result.stdout
    assert requests.get(course.url("alertmanager") + "/-/ready", timeout=5).ok
