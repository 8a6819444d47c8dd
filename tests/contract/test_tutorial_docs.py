"""The tutorial's pages keep the conventions of tutorial/README.md ("How these pages are written
and tested"), checked on the files alone: what a ```bash block may hold, one query per ```promql
block, and every path, link, dashboard, panel, port and URL path the text names exists.

tests/integration/test_tutorial_commands.py runs the ```console and ```promql blocks against a
live stack. The pages are globbed when the tests are collected: a page added later is checked
without touching this file.
"""

import fnmatch
import re
import shlex
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.contract.dashboards import dashboards, panels
from tests.contract.markdown_blocks import (
    Block,
    Command,
    bash_commands,
    blocks_of,
    code_spans,
    console_commands,
    created_files,
    fenced_blocks,
    output_before_first_command,
    promql_queries,
    relative,
    tutorial_pages,
    without_fenced_blocks,
)
from tests.contract.tools import require
from tests.helpers import REPO

PAGES = tutorial_pages()
RUNBOOKS = REPO / "tutorial" / "runbooks"
RULES = REPO / "monitoring" / "prometheus" / "rules"


def pages(test):
    """Parametrizes `test` over the pages, named by their path in the repository."""
    return pytest.mark.parametrize("page", PAGES, ids=relative)(test)


def problems_of(found: list[str]) -> None:
    assert not found, "\n".join(found)


# --- 1. What a ```bash block may hold -------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of command that CI does not run, and why."""

    name: str
    reason: str
    pattern: re.Pattern

    def matches(self, command: str) -> bool:
        # --help only prints the usage, whatever the program does otherwise (Docker still needed).
        if self.name != "needs Docker" and re.search(r"\s(--help|-h)(\s|$)", command):
            return False
        return bool(self.pattern.search(command))


def kind(name: str, reason: str, *patterns: str) -> Kind:
    return Kind(name, reason, re.compile("|".join(f"(?:{pattern})" for pattern in patterns)))


# The load test's scenarios that last minutes unless shortened (see its --help).
LONG_SCENARIOS = r"(mixed|errors|slow|soak|all)"


# Matched against each simple command of a line (split at |, &&, ||, ; and &), normalised: leading
# VAR=value assignments and sudo/env/time/nohup/exec dropped, the program by its base name, and a
# Python script or module (python scripts/serve.py, python -m pytest) by its own name.
EXCLUDED = (
    kind("starts or stops servers",
         "it holds the terminal until stopped, or takes down a stack that the next commands use",
         r"^make (run|monitoring)\b", r"^start_monitoring\.sh\b", r"^serve\.py\b", r"^uvicorn\b",
         r"^churn\.ops\.(native_stack|alert_receiver)\b", r"^p?kill\b",
         r"^(prometheus|prometheus-pushgateway|prometheus-alertmanager|prometheus-blackbox-exporter"
         r"|pushgateway|alertmanager|blackbox_exporter|grafana-server)(\s|$)"),
    kind("needs Docker", "CI's stack runs natively; tests/containers covers the Compose stack",
         r"^docker(-compose)?(\s|$)"),
    kind("edits or deletes the student's files",
         "its effect is the student's to choose, and the next commands of a page would run on the result",
         r"^make clean\b", r"^git(\s|$)", r"^rm(\s|$)", r"^(nano|vi|vim|nvim|emacs|code|gedit)(\s|$)",
         r"^(cp|mv)(\s|$)", r"^sed (-\w*i|--in-place)"),
    kind("runs until interrupted", "it never returns by itself",
         r"^tail .*(-\w*[fF]\b|--follow)", r"^watch(\s|$)", r"^journalctl .*-f\b"),
    # CI runs the same scenarios shortened (--duration 15 and 10) before the pages' commands.
    kind("runs for minutes", "a load test of a minute or more; CI runs the scenarios shortened",
         rf"^load_test\.py\b(?!.*--(duration|requests)\b).*--scenario[ =]{LONG_SCENARIOS}\b",
         r"^load_test\.py\b.*--duration[ =]([6-9]\d|\d{3,})\b", r"^load_test\.py\b.*--scenario[ =]soak\b"),
    kind("the test suite itself", "CI runs it already; run inside itself it would take minutes",
         r"^make (test|test-containers)\b", r"^pytest\b"),
)
SHELL_LANGUAGES = {"sh", "shell", "zsh", "shell-session", "shellsession", "terminal", "console", "bash"}
WRAPPERS = {"sudo", "env", "time", "nohup", "exec"}
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")


def simple_commands(line: str) -> list[list[str]]:
    """The words of each simple command of a shell line."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: good enough to split on blanks
        tokens = line.split()
    commands, words = [], []
    for token in tokens:
        if token in {"|", "||", "&&", ";", "&", "(", ")"}:
            commands.append(words)
            words = []
        else:
            words.append(token)
    return [words for words in [*commands, words] if words]


def normalised(words: list[str]) -> str:
    while words and (ASSIGNMENT.match(words[0]) or words[0] in WRAPPERS):
        words = words[1:]
    if not words:
        return ""
    program, *rest = words
    program = PurePosixPath(program).name
    if re.fullmatch(r"python[\d.]*", program) and rest:
        if rest[0] == "-m" and len(rest) > 1:
            program, rest = rest[1], rest[2:]
        elif not rest[0].startswith("-"):
            program, rest = PurePosixPath(rest[0]).name, rest[1:]
    return " ".join([program, *rest])


def excluded(command: str) -> Kind | None:
    """The kind of a command line that CI does not run, or None if it could run."""
    for words in simple_commands(command):
        text = normalised(words)
        for candidate in EXCLUDED:
            if candidate.matches(text):
                return candidate
    return None


def bash_problems(blocks: list[Block]) -> list[str]:
    return [f"{command.where}: `{command.command}`: make it a ```console block (run by CI) or say why "
            "it cannot run" for block in blocks if block.language == "bash"
            for command in bash_commands(block) if excluded(command.command) is None]


def console_problems(blocks: list[Block]) -> list[str]:
    found = []
    for block in (block for block in blocks if block.language == "console"):
        if block.info != "console":
            found.append(f"{relative(block.path)}:{block.line}: ```{block.info}: "
                         "a console block has no options")
        for line in output_before_first_command(block):
            found.append(f"{relative(block.path)}:{line}: output before the block's first `$ ` command")
        commands = console_commands(block)
        if not commands:
            found.append(f"{relative(block.path)}:{block.line}: a console block without a `$ ` command")
        for command in commands:
            single = " ".join(command.command.replace("\\\n", " ").split())
            if not single:
                found.append(f"{command.where}: an empty `$ ` command")
            elif (cannot := excluded(single)) is not None:
                found.append(f"{command.where}: `{single}` cannot run in CI ({cannot.name}: {cannot.reason}):"
                             " make it a ```bash block")
    return found


def shell_language_problems(blocks: list[Block]) -> list[str]:
    return [f"{relative(block.path)}:{block.line}: ```{block.info}: a shell block is ```console (run by CI)"
            " or ```bash (shown, not run)" for block in blocks
            if block.language.lower() in SHELL_LANGUAGES - {"console", "bash"}]


@pages
def test_bash_blocks_hold_only_commands_ci_cannot_run(page):
    problems_of(bash_problems(blocks_of(page)))


@pages
def test_console_blocks_are_commands_ci_can_run(page):
    blocks = blocks_of(page)
    problems_of(shell_language_problems(blocks) + console_problems(blocks))


# --- 2. Paths and links ------------------------------------------------------------------------

PROJECT_PATH = re.compile(
    r"(?<![\w./~-])(?:\./)?(?P<path>(?:src|scripts|config|monitoring|tests|tutorial|benchmarks|data|models|logs)"
    r"(?:/[\w.*<>{}-]*)+)"
    r"|(?<![\w./~-])(?P<file>Makefile|Dockerfile|docker-compose\.yml|README\.md|pyproject\.toml"
    r"|requirements(?:-dev)?\.txt|\.env\.example)(?![\w-]|\.\w)")
# data/, models/ and logs/ hold what the running project makes: .gitignore keeps only their README
# (or .gitkeep) in the repository. These are the files it makes, so a page may name them.
RUNTIME = (
    "data/*.csv",                      # the customers generated or dropped in, predictions, new data
    "data/*.prom",                     # a job's metrics, kept for a later push
    "data/*.html", "data/*.json",      # drift reports and exports written beside the data
    "models/latest",                   # the name of the model being served
    "models/[0-9]*",                   # a trained model's folder, named by its version, and its files
    "logs/*.log", "logs/*.log.*",      # each component's log and its rotated files
    "logs/*.jsonl", "logs/*.jsonl.*",  # the alert receiver's notifications, JSON logs
    "logs/demo-faults.json",           # the demo fault switch's state
    "logs/native-stack", "logs/native-stack/*",  # make monitoring's configs and data
    "logs/prometheus-multiproc", "logs/prometheus-multiproc/*",  # uvicorn workers' metric files
)
PLACEHOLDER = re.compile(r"<[^>]*>|\.\.\.|\{[^}]*\}")


def project_paths(text: str) -> list[tuple[int, str]]:
    """(line, path) of every project path inside a code span."""
    found = []
    for line, span in code_spans(text):
        for match in PROJECT_PATH.finditer(span):
            path = (match["path"] or match["file"]).rstrip(".")
            found.append((line, path))
    return found


def path_exists(path: str, created: set[str] = frozenset()) -> bool:
    """`path` is in the repository, made by the running project, a placeholder, or `created` by
    the page's own ```diff (a solution's new file)."""
    bare = path.rstrip("/")
    if PLACEHOLDER.search(path) or bare in created:
        return True
    if any(fnmatch.fnmatchcase(bare, pattern) for pattern in RUNTIME):
        return True
    if bare.split("/")[0] in {"data", "models", "logs"} and "/" in bare:
        # The rest of those folders is not in the repository, whatever this checkout holds.
        return bare in {"data/README.md", "models/README.md", "logs/.gitkeep"}
    if "*" in bare:
        return any(REPO.glob(bare))
    return (REPO / bare).exists()


LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(?P<target>\S+?)>?(?:\s|$)", flags=re.MULTILINE)


def links(text: str) -> list[tuple[int, str]]:
    prose = without_fenced_blocks(text)
    return sorted((prose.count("\n", 0, match.start()) + 1, match["target"])
                  for pattern in (LINK, REFERENCE) for match in pattern.finditer(prose))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: inline markup dropped, lower case, punctuation removed,
    spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*_]", "", text).strip().lower()
    text = "".join(char for char in text
                   if char in " -_" or unicodedata.category(char)[0] in {"L", "N"})
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in without_fenced_blocks(path.read_text(encoding="utf-8")).splitlines():
        if heading := re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line):
            base = slug(heading[1])
            anchor, number = base, 0
            while anchor in found:
                number += 1
                anchor = f"{base}-{number}"
            found.add(anchor)
    return found


def link_problems(page: Path, text: str) -> list[str]:
    found = []
    for line, target in links(text):
        if re.match(r"^[a-zA-Z][\w+.-]*:", target):  # http:, https:, mailto: ...: see the URL test
            continue
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        where = f"{relative(page)}:{line}"
        if not resolved.exists():
            found.append(f"{where}: link ({target}): {relative(resolved)} does not exist")
        elif anchor and resolved.suffix == ".md" and resolved.is_file() and anchor not in anchors(resolved):
            found.append(f"{where}: link ({target}): {relative(resolved)} has no heading #{anchor}")
    return found


@pages
def test_paths_in_backticks_and_links_exist(page):
    text = page.read_text(encoding="utf-8")
    created = created_files(text)
    found = [f"{relative(page)}:{line}: `{path}` is not in the repository"
             for line, path in project_paths(text) if not path_exists(path, created)]
    problems_of(found + link_problems(page, text))


# --- 3. Dashboards and panels ------------------------------------------------------------------

ARROW = "\u203a"  # the single right-pointing angle quotation mark between dashboard and panel
# Bold text may wrap onto the next line of its paragraph.
BOLD_TEXT = r"(?:(?!\n\s*\n)[^*])+?"
PANEL_REFERENCE = re.compile(rf"\*\*(?P<dashboard>{BOLD_TEXT})\s+\u203a\s+(?P<panel>{BOLD_TEXT})\*\*")
DASHBOARD_REFERENCE = re.compile(r"\*\*(?P<dashboard>(?:(?!\n\s*\n)[^*\u203a])+?)\*\*\s+dashboards?\b")
# The words tutorial/README.md uses to state the convention itself.
EXAMPLE = "Dashboard title"


def panel_titles() -> dict[str, list[re.Pattern]]:
    """Dashboard title -> a pattern per panel (and row) title; a variable ($slo) stands for any
    of its values."""
    titles: dict[str, list[re.Pattern]] = {}
    for board in dashboards().values():
        titles[board["title"]] = [
            re.compile(re.sub(r"\\\$\w+|\\\$\\\{\w+\\\}", ".+", re.escape(panel["title"])) + "$")
            for panel in panels(board) if panel.get("title")]
    return titles


def panel_problems(page: Path, text: str) -> list[str]:
    titles = panel_titles()
    prose = without_fenced_blocks(text)
    found = []
    for match in PANEL_REFERENCE.finditer(prose):
        where = f"{relative(page)}:{prose.count(chr(10), 0, match.start()) + 1}"
        dashboard, panel = " ".join(match["dashboard"].split()), " ".join(match["panel"].split())
        if dashboard == EXAMPLE:
            continue
        reference = f"**{dashboard} {ARROW} {panel}**"
        if ARROW in panel:
            found.append(f"{where}: {reference}: name a panel as **Dashboard title {ARROW} Panel title**")
        elif dashboard not in titles:
            found.append(f"{where}: {reference}: no dashboard is titled {dashboard!r} "
                         f"(there are {sorted(titles)})")
        elif not any(pattern.match(panel) for pattern in titles[dashboard]):
            found.append(f"{where}: {reference}: the {dashboard} dashboard has no panel titled {panel!r}")
    for match in DASHBOARD_REFERENCE.finditer(prose):
        if " ".join(match["dashboard"].split()) not in {*titles, EXAMPLE}:
            line = prose.count("\n", 0, match.start()) + 1
            found.append(f"{relative(page)}:{line}: the **{match['dashboard']}** dashboard: no dashboard "
                         f"has that title (there are {sorted(titles)})")
    return found


@pages
def test_dashboards_and_panels_named_exist(page):
    problems_of(panel_problems(page, page.read_text(encoding="utf-8")))


# --- 4. URLs on localhost ----------------------------------------------------------------------

URL = re.compile(r"(?:https?://)?(?:localhost|127\.0\.0\.1):(?P<port>\d+)(?P<path>/[^\s`'\"()\[\]|\\]*)?")
# DESIGN.md's ports.
PORTS = {8000: "API", 9090: "Prometheus", 9091: "Pushgateway", 9093: "Alertmanager",
         9095: "alert receiver", 9115: "blackbox exporter", 3000: "Grafana"}
# The pages of the programs that are not ours, as their UIs and HTTP APIs name them (prefixes end
# in /). Alertmanager's UI routes after a #.
UI_PATHS = {
    # Prometheus 3's pages; Debian's 2.42 (the native stack) serves the classic ones under /classic/.
    9090: ("/", "/graph", "/query", "/targets", "/alerts", "/rules", "/status", "/config", "/flags",
           "/tsdb-status", "/service-discovery", "/metrics", "/-/ready", "/-/healthy", "/-/reload",
           "/api/v1/", "/classic/"),
    9091: ("/", "/#", "/metrics", "/metrics/job/", "/-/ready", "/-/healthy", "/api/v1/"),
    9093: ("/", "/#/alerts", "/#/silences", "/#/status", "/#/receivers", "/metrics", "/-/ready",
           "/-/healthy", "/-/reload", "/api/v2/"),
    9115: ("/", "/probe", "/metrics", "/config", "/logs", "/-/healthy", "/-/reload"),
    3000: ("/", "/login", "/dashboards", "/dashboards/", "/dashboard/new", "/dashboard/import",
           "/explore", "/alerting/", "/connections/", "/datasources", "/datasources/", "/api/health",
           "/api/datasources", "/api/datasources/", "/api/dashboards/", "/api/search", "/api/folders"),
}


def allowed(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or (prefix.endswith("/") and prefix != "/" and path.startswith(prefix))
               for prefix in prefixes)


def urls(text: str) -> list[tuple[int, int, str]]:
    """(line, port, path) of every localhost URL, blocks included; the query string dropped, and
    the fragment too except for Alertmanager, whose UI routes after a #."""
    found = []
    for match in URL.finditer(text):
        port, path = int(match["port"]), (match["path"] or "").rstrip(".,;:")
        if path.endswith(">") and path.count(">") > path.count("<"):  # an autolink's end
            path = path[:-1].rstrip(".,;:")
        path = path.split("?")[0]
        if port != 9093 and "#" in path:
            path = path.split("#")[0]
        found.append((text.count("\n", 0, match.start()) + 1, port, path))
    return found


def route_pattern(template: str) -> re.Pattern:
    """A route template (/churn/{customer_id}) as a pattern a page's path (/churn/15573833 or
    /churn/<id>) must match."""
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}]+\})", template)) + "$")


def app_routes(app) -> list[re.Pattern]:
    """The routes of a FastAPI app: its OpenAPI paths and its documentation pages."""
    documentation = (app.docs_url, app.redoc_url, app.openapi_url)
    paths = list(app.openapi()["paths"]) + [url for url in documentation if url]
    return [route_pattern(path) for path in paths]


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> dict[int, list[re.Pattern]]:
    """The API's routes (admin and fault switch included, as the Compose stack has them) and the
    alert receiver's."""
    from prometheus_client import CollectorRegistry

    from churn.api.app import create_app
    from churn.ops.alert_receiver import create_receiver_app
    from tests.helpers import settings_for

    settings = settings_for(tmp_path_factory.mktemp("routes"), admin_token="churn-demo", demo_faults=True)
    return {8000: app_routes(create_app(settings, CollectorRegistry())),
            9095: app_routes(create_receiver_app(settings))}


def url_problems(page: Path, text: str, routes: dict[int, list[re.Pattern]]) -> list[str]:
    found = []
    boards = set(dashboards())
    created = created_files(text)
    for line, port, path in urls(text):
        url = f"localhost:{port}{path}"
        where = f"{relative(page)}:{line}: {url}"
        if port not in PORTS:
            found.append(f"{where}: port {port} is none of DESIGN.md's ({sorted(PORTS)})")
        elif not path or PLACEHOLDER.fullmatch(path.lstrip("/")):
            continue
        elif port in routes:
            bare = path.split("#")[0]
            if not any(pattern.match(bare) for pattern in routes[port]):
                found.append(f"{where}: the {PORTS[port]} has no route {bare}")
            elif (name := re.match(r"/runbooks/([^/]+)$", bare)) and not PLACEHOLDER.search(name[1]):
                runbook = f"tutorial/runbooks/{name[1].removesuffix('.md')}.md"
                if not (REPO / runbook).is_file() and runbook not in created:
                    found.append(f"{where}: {runbook} does not exist")
        elif port == 3000 and (board := re.match(r"/d/([^/]+)", path)):
            if board[1] not in boards and not PLACEHOLDER.search(board[1]):
                found.append(f"{where}: no dashboard has the uid {board[1]!r} (there are {sorted(boards)})")
        elif not allowed(path, UI_PATHS[port]):
            found.append(f"{where}: not a page of the {PORTS[port]} (known: {', '.join(UI_PATHS[port])})")
    return found


@pages
def test_localhost_urls_use_designs_ports_and_real_paths(page, routes):
    problems_of(url_problems(page, page.read_text(encoding="utf-8"), routes))


# --- 5. Alerts and runbooks --------------------------------------------------------------------


def test_every_runbook_belongs_to_an_alert():
    """The other direction (every alert's runbook_url opens a page of tutorial/runbooks/) is
    tests/contract/test_monitoring_config.py's."""
    urls = {rule["annotations"].get("runbook_url", "")
            for path in sorted(RULES.glob("*.rules.yml"))
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
            if "alert" in rule}
    names = {url.rsplit("/", 1)[-1] for url in urls}
    orphans = sorted(page.name for page in RUNBOOKS.glob("*.md") if page.stem not in names)
    assert not orphans, f"runbooks that no alert's runbook_url opens: {orphans}"


# --- 6. PromQL blocks --------------------------------------------------------------------------


def promql_problems(blocks: list[Block]) -> list[str]:
    found = []
    for block in (block for block in blocks if block.language == "promql"):
        where = f"{relative(block.path)}:{block.line}"
        if block.info not in {"promql", "promql no-data"}:
            found.append(f"{where}: ```{block.info}: write ```promql, or ```promql no-data for a query "
                         "that may rightly return nothing")
        queries = promql_queries(block)
        if len(queries) != 1:
            found.append(f"{where}: {len(queries)} queries in one block: one query per ```promql block")
    return found


@pages
def test_promql_blocks_hold_one_query_each(page):
    problems_of(promql_problems(blocks_of(page)))


def test_every_promql_query_parses(tmp_path):
    """promtool parses each query as the expression of a recording rule: a typo, or two queries
    on consecutive lines, fails here before any stack runs."""
    promtool = require("promtool")
    queries = [(block, query) for page in PAGES for block in blocks_of(page) if block.language == "promql"
               for query in promql_queries(block)]
    if not queries:
        pytest.skip("no ```promql block in the pages yet")
    rules = {"groups": [{"name": f"query_{index}",
                         "rules": [{"record": f"tutorial:query_{index}", "expr": query}]}
                        for index, (_, query) in enumerate(queries)]}
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(tmp_path / "queries.yml")],
                            capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    broken = [f"{relative(block.path)}:{block.line}: {query}\n    {line.strip()}"
              for index, (block, query) in enumerate(queries)
              for line in output.splitlines() if f'"query_{index}"' in line]
    assert result.returncode == 0, "\n".join(broken) or output


# --- The parsing and matching above, on small pages --------------------------------------------

SAMPLE = """# A page

Run `scripts/train.py` and read `logs/api.log`, `models/<version>/metadata.json`, `src/nowhere.py`.
Open **API health \u203a Requests per second** and **API health \u203a Nothing here**, the **Overview**
dashboard and the **Nope** dashboard; see [the index](README.md#tutorial) and [gone](missing.md).

```bash
make run                       # or: docker compose up --wait
CHURN_ADMIN_TOKEN=churn-demo CHURN_DEMO_FAULTS=true make monitoring
# a comment
tail -f logs/api.log
curl -s localhost:8000/health
.venv/bin/python scripts/load_test.py \\
    --scenario soak
cat > notes.txt <<EOF
curl localhost:8000/churn/1
EOF
```

- In a list:

  ```console
  $ curl -s localhost:8000/churn/15573833 \\
      -H 'X-Request-ID: abc'
  {"customer_id": 15573833, ...}
  $ make run
  ```

```promql
# requests per second
sum(rate(api_requests_total[5m]))
```

```promql no-data
up == 0

up == 1
```

```promql maybe
up
```

```sh
ls
```

Links: http://localhost:9090/targets, localhost:9999/x, localhost:8000/churn/<id>,
localhost:8000/nowhere, http://localhost:9095/runbooks/api-down, localhost:9095/runbooks/nope,
http://localhost:3000/d/overview, http://localhost:3000/d/nope, localhost:9093/#/silences,
localhost:9090/api/v1/query?query=up, localhost:9091/wrong, <http://localhost:8000/docs>,
localhost:9095/runbooks/<name>.
"""


@pytest.fixture
def sample(tmp_path) -> Path:
    page = tmp_path / "tutorial" / "week-9-sample.md"
    page.parent.mkdir()
    page.write_text(SAMPLE)
    (tmp_path / "tutorial" / "README.md").write_text("# Tutorial\n\n## Other heading\n")
    return page


def test_fenced_blocks_are_found_with_their_lines_and_indented_ones_too(sample):
    blocks = blocks_of(sample)
    assert [(block.line, block.info) for block in blocks] == [
        (7, "bash"), (22, "console"), (29, "promql"), (34, "promql no-data"), (40, "promql maybe"),
        (44, "sh")]
    assert blocks[1].text.startswith("$ curl -s localhost:8000/churn/15573833 \\\n    -H")
    assert fenced_blocks("```bash\nopen\n")[0].text == "open"
    here_string = fenced_blocks("```bash\ngrep x <<< 'x'\nmake run\n```\n")[0]
    assert [command.command for command in bash_commands(here_string)] == ["grep x <<< 'x'", "make run"]
    assert fenced_blocks("````markdown\n```bash\nx\n```\n````\n")[0].text == "```bash\nx\n```"


def test_bash_commands_join_continuations_and_drop_comments_and_heredoc_bodies(sample):
    (bash, *_) = blocks_of(sample)
    assert [(command.line, command.command) for command in bash_commands(bash)] == [
        (8, "make run"),
        (9, "CHURN_ADMIN_TOKEN=churn-demo CHURN_DEMO_FAULTS=true make monitoring"),
        (11, "tail -f logs/api.log"),
        (12, "curl -s localhost:8000/health"),
        (13, ".venv/bin/python scripts/load_test.py --scenario soak"),
        (15, "cat > notes.txt <<EOF"),
    ]


def test_console_commands_keep_continuations_and_their_expected_output(sample):
    console = blocks_of(sample)[1]
    assert console_commands(console) == [
        Command(sample, 23, "curl -s localhost:8000/churn/15573833 \\\n    -H 'X-Request-ID: abc'",
                '{"customer_id": 15573833, ...}'),
        Command(sample, 26, "make run", ""),
    ]
    assert output_before_first_command(fenced_blocks("```console\nhello\n$ ls\n```\n", sample)[0]) == [2]


@pytest.mark.parametrize(("command", "name"), [
    ("make run", "starts or stops servers"),
    ("CHURN_ADMIN_TOKEN=churn-demo CHURN_DEMO_FAULTS=true make monitoring", "starts or stops servers"),
    ("scripts/start_monitoring.sh --native", "starts or stops servers"),
    (".venv/bin/python scripts/serve.py --port 8001", "starts or stops servers"),
    (".venv/bin/python -m uvicorn churn.api.app:create_app --factory", "starts or stops servers"),
    ("docker compose up --wait", "needs Docker"),
    ("docker compose exec alert-receiver tail -f logs/alerts.jsonl", "needs Docker"),
    ("rm -rf models/latest", "edits or deletes the student's files"),
    ("git diff monitoring/", "edits or deletes the student's files"),
    ("cp tutorial/solutions/x.yml monitoring/", "edits or deletes the student's files"),
    ("sed -i 's/a/b/' config/settings.toml", "edits or deletes the student's files"),
    ("make clean", "edits or deletes the student's files"),
    ("tail -f logs/api.log | grep ERROR", "runs until interrupted"),
    ("tail -F logs/api.log", "runs until interrupted"),
    ("watch -n 1 curl -s localhost:8000/health", "runs until interrupted"),
    (".venv/bin/python scripts/load_test.py --scenario soak --rps 5", "runs for minutes"),
    (".venv/bin/python scripts/load_test.py --scenario soak --duration 20", "runs for minutes"),
    (".venv/bin/python scripts/load_test.py --scenario errors", "runs for minutes"),
    (".venv/bin/python scripts/load_test.py --scenario mixed --duration 60", "runs for minutes"),
    ("make test", "the test suite itself"),
    (".venv/bin/python -m pytest tests/unit", "the test suite itself"),
    (".venv/bin/pytest -k tutorial", "the test suite itself"),
    ("curl -s localhost:8000/health && docker compose ps", "needs Docker"),
])
def test_excluded_commands_are_named_by_their_kind(command, name):
    assert excluded(command).name == name


@pytest.mark.parametrize("command", [
    "curl -s localhost:8000/health", ".venv/bin/python scripts/train.py", "make lint",
    "tail -n 5 logs/api.log", "grep ' 500 ' logs/api.log | wc -l", "sed -n 1,5p config/settings.toml",
    ".venv/bin/python scripts/load_test.py --scenario light", "promtool test rules monitoring/x.test.yml",
    ".venv/bin/python scripts/load_test.py --scenario errors --duration 10 --token churn-demo",
    "scripts/start_monitoring.sh --help", ".venv/bin/python scripts/serve.py -h",
    "jq -c 'select(.level == \"ERROR\")' logs/api.jsonl", "git-free-words --git",
])
def test_other_commands_are_not_excluded(command):
    assert excluded(command) is None


def test_bash_and_console_problems_name_the_file_line_and_fix(sample):
    blocks = blocks_of(sample)
    assert [problem.split(": ", 1)[0] for problem in bash_problems(blocks)] == [
        f"{sample}:12", f"{sample}:15"]
    assert "make it a ```console block (run by CI) or say why it cannot run" in bash_problems(blocks)[0]
    console = console_problems(blocks)
    assert len(console) == 1 and console[0].startswith(f"{sample}:26: `make run` cannot run in CI")
    assert shell_language_problems(blocks) == [
        f"{sample}:44: ```sh: a shell block is ```console (run by CI) or ```bash (shown, not run)"]


def test_promql_blocks_one_query_and_known_info_strings(sample):
    blocks = blocks_of(sample)
    assert promql_queries(blocks[2]) == ["sum(rate(api_requests_total[5m]))"]
    assert promql_problems(blocks) == [
        f"{sample}:34: 2 queries in one block: one query per ```promql block",
        f"{sample}:40: ```promql maybe: write ```promql, or ```promql no-data for a query that may "
        "rightly return nothing"]
    multi_line = fenced_blocks("```promql\nsum by (le) (\n  rate(x[5m])\n)\n```\n")[0]
    assert promql_queries(multi_line) == ["sum by (le) (\n  rate(x[5m])\n)"]


def test_paths_in_code_spans_exist_unless_made_at_run_time(sample):
    text = sample.read_text()
    assert project_paths(text) == [(3, "scripts/train.py"), (3, "logs/api.log"),
                                   (3, "models/<version>/metadata.json"), (3, "src/nowhere.py")]
    assert [path for _, path in project_paths(text) if not path_exists(path)] == ["src/nowhere.py"]
    assert project_paths("`curl --data-binary @data/predictions.prom x` `./scripts/doctor.py` "
                         "`/work/main/src/x` `see Makefile.` `monitoring/prometheus/rules/*.rules.yml`") == [
        (1, "data/predictions.prom"), (1, "scripts/doctor.py"), (1, "Makefile"),
        (1, "monitoring/prometheus/rules/*.rules.yml")]
    assert path_exists("monitoring/prometheus/rules/*.rules.yml")
    assert path_exists("models/20261130-191739/metrics.prom") and path_exists("logs/alerts.jsonl")
    assert not path_exists("data/customers.parquet") and not path_exists("models/best")


def test_links_resolve_to_files_and_headings(sample):
    found = link_problems(sample, sample.read_text())
    assert found == [f"{sample}:5: link (missing.md): {sample.parent / 'missing.md'} does not exist"]
    assert link_problems(sample, "[x](README.md#other-heading) [y](README.md#nope)") == [
        f"{sample}:1: link (README.md#nope): {sample.parent / 'README.md'} has no heading #nope"]
    assert slug("Week 1: Set-up, `make run` & [the doctor](x.md)") == "week-1-set-up-make-run--the-doctor"


def test_panel_and_dashboard_references_must_exist(sample):
    found = panel_problems(sample, sample.read_text())
    assert len(found) == 2, found
    assert "the API health dashboard has no panel titled 'Nothing here'" in found[0]
    assert "the **Nope** dashboard: no dashboard has that title" in found[1]
    (wrapped,) = panel_problems(sample, f"**API health {ARROW}\nNothing here**")
    assert "no panel titled 'Nothing here'" in wrapped
    # A panel title with a dashboard variable stands for each of its values.
    assert panel_problems(sample, f"**SLOs and error budgets {ARROW} Is the availability SLO met?**") == []


def test_urls_need_designs_ports_and_real_routes(sample, routes):
    found = url_problems(sample, sample.read_text(), routes)
    assert [problem.split(": ", 2)[1] for problem in found] == [
        "localhost:9999/x", "localhost:8000/nowhere", "localhost:9095/runbooks/nope",
        "localhost:3000/d/nope", "localhost:9091/wrong"], found
    assert url_problems(sample, "`curl -s 'localhost:9090/api/v1/query' --data-urlencode 'query=up'` "
                        "localhost:8000/docs localhost:8000/admin/faults", routes) == []
