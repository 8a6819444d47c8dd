"""The package reads top to bottom: imports only run down the layers, and never in a circle.

The layers follow the data (settings -> data -> model -> batch -> api), with the jobs that run
them and the tools that operate the stack on top. A module may import from its own layer or
any layer below; an import that runs back up fails here, naming the file and the import.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "src" / "churn"
# Top-level modules and packages of churn, lowest layer first.
LAYERS = (
    {"errors", "files", "settings", "logs", "risk", "cli"},  # foundations, no domain knowledge
    {"data", "drift"},                                       # the data and how it is compared
    {"model"},                                               # training, registry, scoring
    {"metrics", "publishing"},                               # the catalogue and pushing it
    {"batch", "report"},                                     # uses of a trained model
    {"api", "jobs"},                                         # the service, and the scripts' jobs
    {"ops", "loadtest", "course"},                           # tools that run, watch, load and teach it
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[str]:
    """churn modules imported by `path`, except those only imported for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(node) for guard in ast.walk(tree) if isinstance(guard, ast.If)
                 and "TYPE_CHECKING" in ast.unparse(guard.test) for node in ast.walk(guard)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("churn.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "churn":
            # `from churn import logs` imports the module churn.logs.
            found += [f"{node.module}.{alias.name}" if node.module == "churn" else node.module
                      for alias in node.names]
    return found


GRAPH = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def unit(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_module_belongs_to_a_layer():
    assert {unit(module) for module in GRAPH if module != "churn"} <= set(RANK)


def test_imports_only_run_down_the_layers():
    upward = [f"{module} imports {imported}" for module, imported_names in GRAPH.items()
              for imported in imported_names
              if module != "churn" and RANK[unit(imported)] > RANK[unit(module)]]
    assert upward == [], "imports that run back up the layers:\n" + "\n".join(upward)


def test_no_import_cycle_between_modules():
    known = set(GRAPH)

    def resolve(name: str) -> str:
        # `from churn.data import loading` names a module; `from churn.data import x` its package.
        return name if name in known else name.rsplit(".", 1)[0]

    edges = {module: {resolve(name) for name in names} - {module} for module, names in GRAPH.items()}
    visiting, done, cycles = [], set(), []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append(" -> ".join([*visiting[visiting.index(module):], module]))
            return
        visiting.append(module)
        for target in sorted(edges.get(module, ())):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(edges):
        visit(module)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", ["churn.model.training", "churn.model.retraining", "churn.batch",
                                    "churn.jobs"])
def test_jobs_load_no_web_framework(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('fastapi', 'starlette') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip()
    assert loaded == "[]", f"importing {module} loads {loaded}"
