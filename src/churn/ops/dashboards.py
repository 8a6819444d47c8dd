"""Grafana dashboards as data: their panels, and their PromQL as Prometheus's HTTP API takes it.

Grafana is not needed to know whether a panel would show data: its query, with Grafana's variables
filled in, runs against Prometheus itself. The tests and the exercise checks both do that.
"""

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

# What Grafana would put in place of its built-in variables. One minute is at least four scrapes
# of both the native test stack (1 s) and the containers (10-15 s); five minutes stand in for
# "the selected range" (the range of an instant query).
BUILT_IN = {"__rate_interval": "1m", "__interval": "1m", "__range": "5m"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def read_dashboard(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(board: dict) -> Iterator[dict]:
    """Every panel of a dashboard, those inside (collapsed) rows included; rows themselves too."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """`expr` with Grafana's variables replaced by `values` (the built-in ones by default)."""
    values = BUILT_IN | dict(values)

    def value(match: re.Match) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))

    return VARIABLE.sub(value, expr)


def grid_problems(board: dict) -> list[str]:
    """Panels off Grafana's 24-column grid or overlapping another, which Grafana would move."""
    problems, cells = [], {}
    for panel in panels(board):
        grid = panel.get("gridPos", {})
        x, y, width, height = (grid.get(key, 0) for key in ("x", "y", "w", "h"))
        if x < 0 or x + width > 24:
            problems.append(f"{panel.get('title')!r} is off the 24-column grid")
        for cell in ((column, row) for column in range(x, x + width) for row in range(y, y + height)):
            if cell in cells:
                problems.append(f"{panel.get('title')!r} overlaps {cells[cell]!r}")
                break
            cells[cell] = panel.get("title")
    return problems
