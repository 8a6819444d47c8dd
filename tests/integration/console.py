"""Running a page's ```console commands as written, against a stack on free ports."""

import doctest
import re
import subprocess

from churn.ops.native_stack import DEFAULT_PORTS, NativeStack
from tests.contract.markdown_blocks import Command

ADDRESS = re.compile(r"\b(localhost|127\.0\.0\.1):(\d+)")


def shows(expected: str, output: str) -> bool:
    """`output` is what the page shows: `...` stands for anything, nothing included, and runs of
    spaces and line ends count as one space (doctest's ELLIPSIS and NORMALIZE_WHITESPACE)."""
    want, got = " ".join(expected.split()), " ".join(output.split())
    # A `...` line first or last may stand for no line at all, so no space either.
    got = (" " if want.startswith("...") else "") + got + (" " if want.endswith("...") else "")
    return doctest.OutputChecker().check_output(want, got, doctest.ELLIPSIS)


def on_stack(command: str, stack: NativeStack) -> str:
    """`command` with the default ports of DESIGN.md replaced by the stack's."""
    components = {str(port): component for component, port in DEFAULT_PORTS.items()}

    def local(match: re.Match) -> str:
        component = components.get(match[2])
        return f"127.0.0.1:{stack.ports[component]}" if component else match[0]

    return ADDRESS.sub(local, command)


def run_console_command(command: Command, stack: NativeStack, cwd) -> str | None:
    """Runs one command from `cwd`; None when it exits 0 and prints what the page shows, else
    what went wrong, naming the page and line."""
    result = subprocess.run(["bash", "-o", "pipefail", "-c", on_stack(command.command, stack)],
                            cwd=cwd, env=stack.env, capture_output=True, text=True, timeout=300,
                            check=False)
    if result.returncode != 0:
        return (f"{command.where}: `{command.command}` exited {result.returncode}\n"
                f"{result.stdout[-1500:]}{result.stderr[-1500:]}")
    if command.expected and not shows(command.expected, result.stdout):
        return (f"{command.where}: `{command.command}` printed\n{result.stdout[-2000:]}\n"
                f"where the page shows\n{command.expected}")
    return None
