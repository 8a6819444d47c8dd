"""The exercises of tutorial/exercises.yml: checking one, showing its hints one at a time, and
each student's progress, kept in tutorial/exercises/.progress.json of their working copy."""

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

import requests
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churn.course.checks import CHECKS, EXERCISES_DIR, NotYet, Outcome
from churn.errors import ChurnError
from churn.settings import PROJECT_ROOT, Settings

MANIFEST = PROJECT_ROOT / "tutorial" / "exercises.yml"
PROGRESS = EXERCISES_DIR / ".progress.json"
Part = Literal["files", "api", "prometheus", "alertmanager"]
# What answers when a part of the stack is up.
READY_PATHS = {"api": "/health", "prometheus": "/-/ready", "alertmanager": "/-/ready"}


class Exercise(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    week: int = Field(ge=1, le=6)
    title: str
    task: str
    needs: list[Part] = Field(min_length=1)
    hints: list[str] = Field(min_length=1)


def load_exercises(path: Path = MANIFEST) -> dict[str, Exercise]:
    """The manifest by id, in course order; every exercise must have a check and the reverse."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        exercises = [Exercise.model_validate(entry) for entry in entries]
    except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
        raise ChurnError(f"cannot read the exercises of {path}: {exc}") from None
    by_id = {exercise.id: exercise for exercise in exercises}
    if set(by_id) != set(CHECKS) or len(by_id) != len(exercises):
        raise ChurnError(f"{path} and churn.course.checks disagree: {sorted(set(by_id) ^ set(CHECKS))}")
    return by_id


def read_progress() -> dict[str, dict]:
    try:
        return json.loads(PROGRESS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_progress(progress: dict[str, dict]) -> None:
    PROGRESS.parent.mkdir(parents=True, exist_ok=True)
    temporary = PROGRESS.with_suffix(".tmp")
    temporary.write_text(json.dumps(progress, indent=2, sort_keys=True), encoding="utf-8")
    temporary.replace(PROGRESS)


def unreachable(exercise: Exercise, settings: Settings) -> Outcome | None:
    """A failed Outcome naming the first part of the stack the exercise needs that does not answer."""
    urls = {"api": settings.api_url, "prometheus": settings.prometheus_url,
            "alertmanager": settings.alertmanager_url}
    for part in exercise.needs:
        if part == "files":
            continue
        try:
            answered = requests.get(urls[part] + READY_PATHS[part], timeout=3).ok
        except requests.RequestException:
            answered = False
        if not answered:
            return Outcome(f"the {part} answering at {urls[part]}",
                           "no answer: start the stack (docker compose up --wait, or make monitoring); "
                           "scripts/doctor.py says what is wrong", passed=False)
    return None


def run_check(exercise: Exercise, settings: Settings) -> Outcome:
    if (down := unreachable(exercise, settings)) is not None:
        return down
    try:
        return CHECKS[exercise.id](settings)
    except NotYet as exc:
        return exc.outcome


def next_hint(exercise: Exercise, progress: dict[str, dict]) -> str:
    """The next hint not yet shown (the last one again once all are), and counts it as shown."""
    entry = progress.setdefault(exercise.id, {})
    shown = min(entry.get("hints_shown", 0) + 1, len(exercise.hints))
    entry["hints_shown"] = shown
    return f"hint {shown}/{len(exercise.hints)}: {exercise.hints[shown - 1]}"


def check(exercise_id: str, settings: Settings) -> bool:
    """Checks one exercise, prints the verdict, and records it; True when it passed."""
    exercise = find(exercise_id)
    outcome = run_check(exercise, settings)
    progress = read_progress()
    print(f"{'PASS' if outcome.passed else 'FAIL'}  {exercise.id} (week {exercise.week}): {exercise.title}")
    print(f"  expected: {outcome.expected}")
    print(f"  found:    {outcome.found}")
    if outcome.passed:
        progress.setdefault(exercise.id, {})["passed_at"] = datetime.now().isoformat(timespec="seconds")
    else:
        print(f"  {next_hint(exercise, progress)}")
    write_progress(progress)
    return outcome.passed


def hint(exercise_id: str) -> None:
    exercise = find(exercise_id)
    progress = read_progress()
    print(f"{exercise.id}: {next_hint(exercise, progress)}")
    write_progress(progress)


def find(exercise_id: str) -> Exercise:
    exercises = load_exercises()
    if exercise_id not in exercises:
        raise ChurnError(f"no exercise {exercise_id!r}; the exercises are: {', '.join(exercises)}")
    return exercises[exercise_id]


def show(exercise_id: str) -> None:
    exercise = find(exercise_id)
    print(f"{exercise.id} (week {exercise.week}): {exercise.title}\n\n{exercise.task.rstrip()}\n")
    print(f"needs: {', '.join(exercise.needs)}; "
          f"check: .venv/bin/python scripts/exercise.py check {exercise.id}")


def list_progress() -> None:
    """One line per exercise: passed (when) or not yet, and how many hints were shown."""
    progress = read_progress()
    exercises = load_exercises()
    for exercise in exercises.values():
        entry = progress.get(exercise.id, {})
        status = f"passed {entry['passed_at']}" if "passed_at" in entry else "not yet"
        print(f"week {exercise.week}  {exercise.id:<28} {status:<28} hints {entry.get('hints_shown', 0)}/"
              f"{len(exercise.hints)}  {exercise.title}")
    passed = sum("passed_at" in progress.get(exercise_id, {}) for exercise_id in exercises)
    print(f"{passed} of {len(exercises)} passed")
