"""The provisioned Grafana dashboards as data: their panels' PromQL, runnable against any Prometheus.

Contract tests read the files; stack tests pass their own `query` to `check_queries` to prove that
every panel shows data on a running stack.
"""

from collections.abc import Callable, Collection

import pytest

from churn.errors import ChurnError
from churn.ops.dashboards import panels, read_dashboard, substitute
from churn.ops.native_stack import wait_until
from tests.helpers import REPO

DASHBOARDS = REPO / "monitoring" / "grafana" / "dashboards"


def dashboards() -> dict[str, dict]:
    """Every dashboard JSON file, by uid."""
    boards = (read_dashboard(path) for path in sorted(DASHBOARDS.glob("*.json")))
    return {board["uid"]: board for board in boards}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) of every query target of every panel."""
    return [(uid, panel["title"], target["expr"])
            for uid, board in dashboards().items() for panel in panels(board)
            for target in panel.get("targets", []) if target.get("expr")]


def annotation_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, "annotation <name>", PromQL) of every Prometheus annotation; the PromQL is
    empty when the annotation has none. Not panel data: an empty answer is its healthy state."""
    return [(uid, f"annotation {annotation['name']}", annotation.get("target", {}).get("expr", ""))
            for uid, board in dashboards().items()
            for annotation in board.get("annotations", {}).get("list", [])
            if (annotation.get("datasource") or {}).get("type") == "prometheus"]


def template_values() -> dict[str, str]:
    """A value for each dashboard variable: its "All" value where it has one, else its current one."""
    values = {}
    for board in dashboards().values():
        for variable in board.get("templating", {}).get("list", []):
            current = variable.get("current", {}).get("value")
            if variable.get("includeAll"):
                values[variable["name"]] = variable.get("allValue") or ".*"
            elif current:
                values[variable["name"]] = current[0] if isinstance(current, list) else current
    return values


def as_promql(expr: str) -> str:
    """`expr` with Grafana's variables replaced, as Prometheus's HTTP API accepts it."""
    return substitute(expr, template_values())


# Panels whose empty answer is the healthy state: no alert is firing.
EMPTY_WHEN_HEALTHY = frozenset({("overview", "Firing alerts")})


def check_queries(query: Callable[[str], list],
                  queries: list[tuple[str, str, str]] | None = None,
                  may_be_empty: Collection[tuple[str, str]] = ()) -> list[str]:
    """Problems found running every panel query through `query` (PromQL -> instant vector).

    A query is a problem when `query` raises (invalid PromQL, Prometheus unreachable) or returns
    no series, unless its (dashboard uid, panel title) is in `may_be_empty`.
    """
    problems = []
    for uid, title, expr in panel_queries() if queries is None else queries:
        try:
            result = query(as_promql(expr))
        except Exception as error:  # whatever the caller's client raises is one more finding
            problems.append(f"{uid} / {title}: {expr} failed: {error}")
            continue
        if not result and (uid, title) not in may_be_empty:
            problems.append(f"{uid} / {title}: {expr} returned no series")
    return problems


def wait_for_every_panel(query: Callable[[str], list], timeout: float) -> None:
    """Polls until every panel query returns data (or may be empty when healthy); fails the test
    listing the panels still without data after `timeout` seconds."""
    problems: list[str] = []

    def clean() -> bool:
        problems[:] = check_queries(query, may_be_empty=EMPTY_WHEN_HEALTHY)
        return not problems

    try:
        wait_until(clean, "every panel query returning data", timeout)
    except ChurnError:
        pytest.fail("panels without data:\n" + "\n".join(problems))
