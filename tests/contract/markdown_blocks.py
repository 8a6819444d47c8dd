"""The tutorial's pages as data: fenced blocks, the commands and queries in them, and the pages
themselves in course order. tutorial/README.md ("How these pages are written and tested") says
what each kind of block means; test_tutorial_docs.py checks the pages statically and
tests/integration/test_tutorial_commands.py runs them.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# A heredoc's delimiter: its body lines are input, not commands.
HEREDOC = re.compile(r"(?<!<)<<-?(?!<)\s*(['\"]?)(?P<word>[\w.-]+)\1")


@dataclass(frozen=True)
class Block:
    """One fenced block: `line` and `end` are the 1-based lines of its opening and closing fences
    (`end` is one past the text for an unclosed block), `info` its info string."""

    path: Path
    line: int
    info: str
    text: str
    end: int

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    def lines(self) -> Iterator[tuple[int, str]]:
        """(line number in the file, text) of each line inside the fences."""
        body = self.text.split("\n") if self.end > self.line + 1 else []
        for offset, text in enumerate(body, start=1):
            yield self.line + offset, text


@dataclass(frozen=True)
class Command:
    """A command of a block, continuation lines included, at the line where it starts."""

    path: Path
    line: int
    command: str
    expected: str = ""

    @property
    def where(self) -> str:
        return f"{relative(self.path)}:{self.line}"


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def fenced_blocks(text: str, path: Path = Path("<text>")) -> list[Block]:
    """Every fenced block of a markdown text, indented ones (in list items) included; the
    indentation of the opening fence is removed from the lines inside. An unclosed block runs to
    the end of the text, as CommonMark says."""
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body = []
        end = index + 1
        while end < len(lines):
            closing = FENCE.match(lines[end])
            if (closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence)
                    and not closing["info"].strip()):
                break
            line = lines[end]
            # Up to the fence's own indentation is not part of the content.
            stripped = len(line) - len(line.lstrip(" \t"))
            body.append(line[min(indent, stripped):])
            end += 1
        blocks.append(Block(path, index + 1, opening["info"].strip(), "\n".join(body), end + 1))
        index = end + 1
    return blocks


def without_fenced_blocks(text: str) -> str:
    """The text with every fenced block's lines blanked, so line numbers stay the same."""
    lines = text.splitlines()
    for block in fenced_blocks(text):
        for number in range(block.line - 1, min(block.end, len(lines))):
            lines[number] = ""
    return "\n".join(lines)


def code_spans(text: str) -> Iterator[tuple[int, str]]:
    """(line, content) of every inline code span outside fenced blocks."""
    prose = without_fenced_blocks(text)
    # A span may wrap onto the next line of its paragraph, never across a blank line.
    for match in re.finditer(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n)[\s\S])+?)(?<!`)\1(?!`)", prose):
        yield prose.count("\n", 0, match.start()) + 1, match[2].strip()


def strip_comment(line: str) -> str:
    """A shell line without its trailing `  # ...` comment (two spaces or a tab, then #)."""
    return re.split(r"(?:  |\t)#", line, maxsplit=1)[0].rstrip()


def bash_commands(block: Block) -> list[Command]:
    """The commands of a ```bash block: comment and blank lines dropped, trailing comments
    removed, lines ending in a backslash joined with the next, heredoc bodies skipped."""
    commands: list[Command] = []
    pending: list[str] = []
    start = 0
    heredoc = None
    for number, raw in block.lines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        line = strip_comment(line)
        if line.endswith("\\"):
            pending.append(line[:-1].rstrip())
            continue
        pending.append(line)
        command = " ".join(part for part in pending if part)
        pending = []
        if command:
            commands.append(Command(block.path, start, command))
        if found := HEREDOC.search(command):
            heredoc = found["word"]
    if pending:
        commands.append(Command(block.path, start, " ".join(pending)))
    return commands


def console_commands(block: Block) -> list[Command]:
    """The commands of a ```console block with their expected output: a line starting with `$ `
    is a command (a line ending in a backslash continues it, as in a shell); the lines below it,
    up to the next command, are its expected output. The command keeps its backslash-newlines,
    which bash joins when it runs it. Lines before the first command belong to no command (the
    static test reports them)."""
    commands: list[Command] = []
    command: list[str] | None = None
    expected: list[str] = []
    start = 0
    continued = False

    def close() -> None:
        if command is not None:
            commands.append(Command(block.path, start, "\n".join(command),
                                    "\n".join(expected).strip("\n")))

    for number, line in block.lines():
        if continued:
            command.append(line)
            continued = line.endswith("\\")
            continue
        if line.startswith("$ ") or line.rstrip() == "$":
            close()
            command, expected, start = [line[2:]], [], number
            continued = line.endswith("\\")
        elif command is not None:
            expected.append(line)
    close()
    return commands


def output_before_first_command(block: Block) -> list[int]:
    """Lines of a ```console block that come before its first `$ ` command and are not blank."""
    lines = []
    for number, line in block.lines():
        if line.startswith("$ ") or line.rstrip() == "$":
            break
        if line.strip():
            lines.append(number)
    return lines


def promql_queries(block: Block) -> list[str]:
    """The queries of a ```promql block: `#` lines dropped, then one query per paragraph (a blank
    line separates two queries; a query may span lines)."""
    lines = [line for _, line in block.lines() if not line.strip().startswith("#")]
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines))
    return [paragraph.strip() for paragraph in paragraphs if paragraph.strip()]


def blocks_of(path: Path) -> list[Block]:
    return fenced_blocks(path.read_text(encoding="utf-8"), path)


def tutorial_pages(root: Path = REPO) -> list[Path]:
    """The pages under test, in the order a class reads them: the weeks by file name, then the
    other tutorial pages, the runbooks and the query examples; the solutions last, since each
    changes the project (tests/integration/test_tutorial_commands.py applies its diff)."""
    tutorial = root / "tutorial"
    weeks = sorted(tutorial.glob("week-*.md"))
    others = sorted(set(tutorial.glob("*.md")) - set(weeks))
    return [*weeks, *others, *sorted((tutorial / "runbooks").glob("*.md")),
            *[path for path in [root / "monitoring" / "queries_examples.md"] if path.is_file()],
            *sorted((tutorial / "solutions").glob("*.md"))]


def created_files(text: str) -> set[str]:
    """Paths that the ```diff blocks of a page (a solution's change) create or change."""
    return {match[1] for block in fenced_blocks(text) if block.language == "diff"
            for match in re.finditer(r"^\+\+\+ b/(\S+)", block.text, flags=re.MULTILINE)}
