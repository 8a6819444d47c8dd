"""Running a page's ```console commands as written, from a copy of the repository, against a
stack on free ports: the test of the tutorial's pages and the test of the exercises' solutions.

Why a small runner and not byexample, prysk or pytest-codeblocks: the commands must run against a
stack on free ports (tests run beside a student's stack on the real ones), so each command and its
output need the ports rewritten, which none of them can do; what is left (split blocks, run bash,
compare with `...`) is the standard library's doctest.OutputChecker and a subprocess.
"""

import doctest
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from churn.ops.native_stack import DEFAULT_PORTS, NativeStack
from tests.contract.markdown_blocks import Command, blocks_of, relative
from tests.helpers import REPO
from tests.integration.processes import native_stack

COMMAND_TIMEOUT = 300
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


def project_root(root: Path) -> None:
    """`root` (holding the project's data, models and logs) made into a copy of the repository, so
    that commands run from it exactly as written: `.venv/bin/python` is this interpreter."""
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            # Not a student's exercise progress (git ignores it too).
            shutil.copytree(source, root / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".progress.json"))
        elif source.is_file():
            shutil.copy2(source, root / name)
    (root / "tests").symlink_to(REPO / "tests")
    if sys.prefix != sys.base_prefix:  # a virtual environment: the same one
        (root / ".venv").symlink_to(sys.prefix)
    else:
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "python").symlink_to(sys.executable)


def command_env(stack: NativeStack) -> dict[str, str]:
    """The stack's environment, with the URLs written as the default settings write them."""
    return stack.env | {f"CHURN_{name.upper()}_URL": f"http://localhost:{stack.ports[name]}"
                        for name in ("api", "prometheus", "pushgateway", "alertmanager")}


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




def apply_solution(page: Path, root: Path) -> None:
    """A solution page's ```diff blocks applied to the copy at `root`, as a student applies them."""
    for block in blocks_of(page):
        if block.language == "diff":
            applied = subprocess.run(["git", "apply", "-"], input=block.text + "\n", cwd=root,
                                     capture_output=True, text=True, check=False)
            assert applied.returncode == 0, f"{relative(page)}:{block.line}: {applied.stderr}"


def working_copy_stack(project: Path, root: Path, token: str) -> NativeStack:
    """A stack (not started) over a copy of the repository at `root` with `project`'s data,
    models and logs: its processes import the copy's src/ (its settings, runbooks and any solution
    applied), Prometheus loads the copy's rules, and the demo fault switch takes `token`."""
    stack = native_stack(project, root, rules_dir=root / "monitoring" / "prometheus" / "rules",
                         CHURN_ADMIN_TOKEN=token, CHURN_DEMO_FAULTS="true", PYTHONPATH=str(root / "src"))
    stack.root = root
    project_root(root)
    return stack
