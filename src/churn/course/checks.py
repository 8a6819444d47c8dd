"""One check per exercise of tutorial/exercises.yml, run against the student's working copy and
running stack: the real Prometheus, Alertmanager and promtool, never a copy of what they say.

A check returns an Outcome, or raises NotYet when something it needs is missing; either way it
says what it expected and what it found, so a failure teaches something.
"""

import json
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import requests
import yaml

from churn.errors import ChurnError
from churn.ops.dashboards import grid_problems, panels, read_dashboard, substitute
from churn.ops.native_stack import query
from churn.settings import PROJECT_ROOT, Settings, load_settings

EXERCISES_DIR = PROJECT_ROOT / "tutorial" / "exercises"
DASHBOARDS = PROJECT_ROOT / "monitoring" / "grafana" / "dashboards"
RULES = PROJECT_ROOT / "monitoring" / "prometheus" / "rules"
RUNBOOK_URL = "http://localhost:9095/runbooks/{}"
HTTP_TIMEOUT = 5
# Values must agree this closely: both queries are evaluated at the same instant, on the same data.
RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Outcome:
    expected: str
    found: str
    passed: bool


class NotYet(ChurnError):
    """A check could not get as far as judging: a file, a series or a component is missing."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(found)
        self.outcome = Outcome(expected, found, passed=False)


# --- The stack and the files --------------------------------------------------------------------

def promql(settings: Settings, expression: str, at: float | None = None) -> list[dict]:
    """An instant query; a refused query or an unreachable Prometheus is a NotYet naming it."""
    try:
        return query(settings.prometheus_url, expression, at)
    except requests.RequestException:
        raise NotYet(f"Prometheus answering at {settings.prometheus_url}",
                     "no answer: is the stack running? (docker compose up --wait, or make monitoring)"
                     ) from None
    except ChurnError as exc:
        raise NotYet("a query Prometheus accepts", str(exc)) from None


def value_of(series: dict) -> float:
    return float(series["value"][1])


def labels_of(series: dict) -> frozenset:
    return frozenset((name, value) for name, value in series.get("metric", {}).items() if name != "__name__")


def read_yaml(path: Path) -> object:
    if not path.is_file():
        raise NotYet(f"the file {path.relative_to(PROJECT_ROOT)}", "no such file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise NotYet(f"valid YAML in {path.relative_to(PROJECT_ROOT)}", f"{exc}".splitlines()[0]) from None


def exercise_query(section: str, name: str) -> str:
    """The student's query `name` under `section` of tutorial/exercises/queries.yml."""
    queries = read_yaml(EXERCISES_DIR / "queries.yml") or {}
    text = ((queries.get(section) or {}) if isinstance(queries, dict) else {}).get(name) or ""
    if not str(text).strip():
        raise NotYet(f"a query for {name} in tutorial/exercises/queries.yml", "it is still empty")
    return str(text)


def promtool(*args: str) -> subprocess.CompletedProcess:
    """promtool from this machine, else from the Compose stack's Prometheus container, which
    mounts monitoring/prometheus/ at /etc/prometheus."""
    if local := shutil.which("promtool"):
        command = [local, *args]
    elif shutil.which("docker"):
        inside = [argument.replace(str(PROJECT_ROOT / "monitoring" / "prometheus"), "/etc/prometheus")
                  for argument in args]
        command = ["docker", "compose", "exec", "-T", "prometheus", "promtool", *inside]
    else:
        raise NotYet("promtool, to check and test rules",
                     "neither promtool nor docker is installed (the Compose stack has promtool inside)")
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                          check=False)


# --- Week 1 -------------------------------------------------------------------------------------

def first_lookup(settings: Settings) -> Outcome:
    up = promql(settings, 'up{job="api-churn"}')
    if not up or value_of(up[0]) != 1:
        raise NotYet("the api-churn target up in Prometheus (localhost:9090/targets)",
                     "no api-churn target" if not up else "the api-churn target is down")
    served = promql(settings, 'sum(model_predictions_total{job="api-churn"})')
    count = int(value_of(served[0])) if served else 0
    return Outcome("at least 3 lookups counted in model_predictions_total",
                   f"{count} counted", count >= 3)


# --- Week 2 -------------------------------------------------------------------------------------

REQUEST_LINE = re.compile(r"^(?P<time>[\d-]+ [\d:.]+) \| .*? \| (?P<method>[A-Z]+) (?P<route>\S+) "
                          r"(?P<status>\d{3}) (?P<ms>[\d.]+) ms(?P<rest>.*)$")


def log_report_lines(log: Path, since: str) -> list[str]:
    """What tutorial/exercises/log_report.sh must print for `log`, errors counted from `since`."""
    lines = [match for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if (match := REQUEST_LINE.match(line))]
    if not lines:
        raise NotYet("request lines in logs/api.log",
                     "none yet: send some requests (the load test) and check again")
    routes = Counter(match["route"] for match in lines)
    customers = Counter(int(found[1]) for match in lines
                        if (found := re.search(r"customer_id=(\d+)", match["rest"])))
    top, times = min(customers.items(), key=lambda item: (-item[1], item[0])) if customers else ("-", 0)
    errors = sum(int(match["status"]) >= 500 and match["time"] >= since for match in lines)
    return [*(f"requests {route} {count}"
              for route, count in sorted(routes.items(), key=lambda item: (-item[1], item[0]))),
            f"mean_ms {sum(float(match['ms']) for match in lines) / len(lines):.2f}",
            f"errors_last_hour {errors}", f"top_customer {top} {times}"]


def log_analysis(settings: Settings) -> Outcome:
    log = settings.logs_dir / "api.log"
    if not log.is_file():
        raise NotYet(f"the API's log at {log}",
                     "no such file (Compose: docker compose cp api:/app/logs/api.log logs/api.log)")
    with tempfile.TemporaryDirectory() as folder:
        # A copy: the API may write more lines while the script and this check read them.
        snapshot = Path(folder) / "api.log"
        shutil.copyfile(log, snapshot)
        hour_ago = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        script = subprocess.run(["bash", str(EXERCISES_DIR / "log_report.sh"), str(snapshot)],
                                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)
        expected = log_report_lines(snapshot, hour_ago)
    found = [line.strip() for line in script.stdout.splitlines() if line.strip()]
    if script.returncode != 0:
        return Outcome(expected[0], f"log_report.sh exited {script.returncode}: "
                       f"{script.stderr.strip()[-300:]}", False)
    for number, wanted in enumerate(expected):
        got = found[number] if number < len(found) else "(nothing)"
        if not same_report_line(wanted, got):
            return Outcome(f"line {number + 1}: {wanted}", f"line {number + 1}: {got}", False)
    if len(found) > len(expected):
        return Outcome(f"{len(expected)} lines", f"{len(found)} lines: {found[len(expected)]!r} is extra",
                       False)
    return Outcome("\n  ".join(expected), "the same lines", True)


def same_report_line(wanted: str, got: str) -> bool:
    """Lines agree word for word; the mean may differ by rounding in the last decimal."""
    if wanted.startswith("mean_ms ") and got.startswith("mean_ms "):
        try:
            return abs(float(wanted.split()[1]) - float(got.split()[1])) <= 0.011
        except (IndexError, ValueError):
            return False
    return wanted.split() == got.split()


def log_retention(settings: Settings) -> Outcome:
    configured = load_settings()  # read again: the file as it is now, with any CHURN_* variable
    rotation, backups = int(configured.log_rotation), configured.log_backups
    return Outcome("log_rotation 1 MB (1000000 to 1048576 bytes) and log_backups 3",
                   f"log_rotation {rotation} bytes, log_backups {backups}",
                   1_000_000 <= rotation <= 1_048_576 and backups == 3)


# --- Week 3 -------------------------------------------------------------------------------------

# The reference answers, evaluated beside the student's at the same instant.
REFERENCE_QUERIES = {
    "requests_per_endpoint": 'sum by (endpoint) (rate(api_requests_total{job="api-churn"}[5m]))',
    "server_error_ratio": 'sum(rate(api_requests_total{job="api-churn", status_code=~"5.."}[5m]))'
                          ' / sum(rate(api_requests_total{job="api-churn"}[5m]))',
    "lookup_latency_p95": 'histogram_quantile(0.95, sum by (le) (rate(api_request_duration_seconds_bucket'
                          '{job="api-churn", endpoint="/churn/{customer_id}"}[5m])))',
    "cache_hit_ratio": 'sum(rate(model_cache_hits_total{job="api-churn"}[5m])) / (sum(rate('
                       'model_cache_hits_total{job="api-churn"}[5m])) + sum(rate('
                       'model_cache_misses_total{job="api-churn"}[5m])))',
}


def close(left: float, right: float) -> bool:
    return (math.isnan(left) and math.isnan(right)) or math.isclose(
        left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def same_answer(settings: Settings, name: str, reference: str, theirs: str) -> Outcome:
    """The student's query against the reference, at one instant: the same series, the same values.
    Labels are compared only when there are several series; one number is judged by its value."""
    now = time.time()
    wanted = {labels_of(series): value_of(series) for series in promql(settings, reference, now)}
    if not wanted or all(math.isnan(value) for value in wanted.values()):
        raise NotYet(f"data for {name}", "the reference answer has no data yet: run the load test "
                     "(with --scenario errors for errors) and check again")
    got = {labels_of(series): value_of(series) for series in promql(settings, theirs, now)}
    shown = f"{len(got)} series: " + ", ".join(
        f"{dict(labels) or '{}'} = {value:.6g}" for labels, value in list(got.items())[:4])
    expected = f"{len(wanted)} series: " + ", ".join(
        f"{dict(labels) or '{}'} = {value:.6g}" for labels, value in list(wanted.items())[:4])
    if len(wanted) == 1 and len(got) == 1:
        passed = close(next(iter(wanted.values())), next(iter(got.values())))
    else:
        passed = wanted.keys() == got.keys() and all(close(wanted[key], got[key]) for key in wanted)
    return Outcome(f"{name}: {expected}", f"{name}: {shown}", passed)


def promql_basics(settings: Settings) -> Outcome:
    for name, reference in REFERENCE_QUERIES.items():
        outcome = same_answer(settings, name, reference, exercise_query("promql-basics", name))
        if not outcome.passed:
            return outcome
    return Outcome("the four answers of the reference", "the same four answers", True)


def data_categories(settings: Settings, column: str) -> set[str]:
    try:
        return set(pd.read_csv(settings.data_path, usecols=[column])[column].dropna().astype(str))
    except (OSError, ValueError) as exc:
        raise NotYet(f"the data file {settings.data_path} with a {column} column", str(exc)) from None


def country_metric(settings: Settings) -> Outcome:
    countries = data_categories(settings, "Geography")
    series = promql(settings, 'model_predictions_by_geography_total{job="api-churn"}')
    found = {series["metric"].get("geography"): value_of(series) for series in series}
    extra_labels = ({name for one in series for name in one["metric"]}
                    - {"__name__", "job", "instance", "geography"})
    expected = (f"a series per country ({', '.join(sorted(countries))}) and at most one more for "
                "any other value, label geography only, at least one customer counted")
    shown = ", ".join(f"{country}={value:g}" for country, value in sorted(found.items(), key=str))
    shown = shown or "no series"
    if extra_labels:
        shown += f"; other labels: {', '.join(sorted(extra_labels))}"
    bounded = countries <= set(found) and len(set(found) - countries) <= 1
    return Outcome(expected, shown, bounded and not extra_labels and sum(found.values()) > 0)


# --- Week 4 -------------------------------------------------------------------------------------

def datasource_uid(item: dict) -> str | None:
    source = item.get("datasource")
    return source.get("uid") if isinstance(source, dict) else None


def dashboard_problems(settings: Settings, board: dict, chosen: dict[str, str],
                       only: Callable[[dict], bool] = lambda panel: True) -> list[str]:
    """Why panels of `board` (those `only` keeps) would not show data: a datasource other than
    uid prometheus, or a query that fails or returns nothing with `chosen` variables."""
    problems = []
    for panel in panels(board):
        if panel.get("type") == "row" or not only(panel):
            continue
        for target in panel.get("targets", []):
            if "prometheus" not in {datasource_uid(panel), datasource_uid(target)}:
                problems.append(f"{panel.get('title')!r}: datasource is not uid prometheus")
            elif expr := target.get("expr"):
                try:
                    if not promql(settings, substitute(expr, chosen)):
                        problems.append(f"{panel.get('title')!r}: {expr} returns no data")
                except NotYet as exc:
                    problems.append(f"{panel.get('title')!r}: {exc.outcome.found}")
    return problems


def dashboard_file(name: str) -> dict:
    path = DASHBOARDS / f"{name}.json"
    if not path.is_file():
        raise NotYet(f"monitoring/grafana/dashboards/{name}.json",
                     "no such file: export your dashboard there")
    try:
        return read_dashboard(path)
    except json.JSONDecodeError as exc:
        raise NotYet(f"valid JSON in {path.name}", str(exc)) from None


def model_comparison_dashboard(settings: Settings) -> Outcome:
    board = dashboard_file("model-comparison")
    variables = {variable.get("name"): variable for variable in board.get("templating", {}).get("list", [])}
    variable_query = json.dumps(variables.get("version", {}).get("query", ""))
    queries = " ".join(target.get("expr", "") for panel in panels(board)
                       for target in panel.get("targets", []))
    annotations = [annotation for annotation in board.get("annotations", {}).get("list", [])
                   if datasource_uid(annotation) == "prometheus"
                   and (annotation.get("target", {}).get("expr") or annotation.get("expr"))]
    requirements = {
        "uid model-comparison": board.get("uid") == "model-comparison",
        "a variable `version` from label_values(..., version)":
            "label_values" in variable_query and "version" in variable_query,
        "a panel reading model_f2_score": "model_f2_score" in queries,
        "a panel reading model_challenger_f2_score and model_champion_f2_score":
            "model_challenger_f2_score" in queries and "model_champion_f2_score" in queries,
        "an annotation from the prometheus datasource with a query": bool(annotations),
    }
    missing = [requirement for requirement, met in requirements.items() if not met]
    if missing:
        return Outcome("; ".join(requirements), "missing: " + "; ".join(missing), False)
    # The versions of the last day, as the variable lists them over the dashboard's range; the
    # panels are judged at the latest, the only one whose series exist now.
    versions = promql(settings, "group by (version) "
                                '(max_over_time(model_version_info{job="churn-training"}[1d]))')
    latest = promql(settings, 'model_version_info{job="churn-training"}')
    if len(versions) < 2 or not latest:
        raise NotYet("at least two trained versions in Prometheus (run scripts/train.py twice)",
                     f"{len(versions)} version(s) in the last day")
    chosen = {"version": latest[0]["metric"]["version"]}
    problems = dashboard_problems(settings, board, chosen) + grid_problems(board)
    return Outcome("every panel on datasource uid prometheus, returning data, none overlapping",
                   "; ".join(problems) or "all do", not problems)


def country_panel(settings: Settings) -> Outcome:
    board = dashboard_file("business-churn")

    def reads_country_metric(panel: dict) -> bool:
        return any("model_predictions_by_geography_total" in target.get("expr", "")
                   for target in panel.get("targets", []))

    found = [panel for panel in panels(board) if reads_country_metric(panel)]
    if not found:
        raise NotYet("a panel of business-churn.json querying model_predictions_by_geography_total",
                     "no panel reads it")
    ids = Counter(panel.get("id") for panel in panels(board))
    problems = [f"{panel.get('title')!r} has no title" for panel in found if not panel.get("title")]
    problems += [f"panel id {panel_id} is used {count} times" for panel_id, count in ids.items() if count > 1]
    problems += grid_problems(board)
    problems += dashboard_problems(settings, board, {}, reads_country_metric)
    return Outcome("a titled panel with a unique id, in a free place of the grid, on datasource uid "
                   "prometheus, whose query returns data", "; ".join(problems) or "all of that",
                   not problems)


# --- Week 5 -------------------------------------------------------------------------------------

DRIFT_ALERT = "ChurnScoreMeanShift"


def drift_alert(settings: Settings) -> Outcome:
    rules_file, tests_file = RULES / "exercises.rules.yml", RULES / "exercises.test.yml"
    groups = (read_yaml(rules_file) or {}).get("groups") or []
    rules = {rule.get("alert"): rule for group in groups for rule in group.get("rules", [])
             if "alert" in rule}
    rule = rules.get(DRIFT_ALERT)
    if rule is None:
        raise NotYet(f"an alert {DRIFT_ALERT} in {rules_file.name}", f"alerts: {sorted(rules) or 'none'}")
    name = "churn-score-mean-shift"
    shape = {
        "for: 5m": str(rule.get("for")) == "5m",
        "severity: warning": (rule.get("labels") or {}).get("severity") == "warning",
        "a summary": bool((rule.get("annotations") or {}).get("summary")),
        f"runbook_url {RUNBOOK_URL.format(name)}":
            (rule.get("annotations") or {}).get("runbook_url") == RUNBOOK_URL.format(name),
        "an expression on churn_prediction_score_avg with an offset":
            "churn_prediction_score_avg" in str(rule.get("expr")) and "offset" in str(rule.get("expr")),
        f"the runbook tutorial/runbooks/{name}.md":
            (PROJECT_ROOT / "tutorial" / "runbooks" / f"{name}.md").is_file(),
    }
    missing = [requirement for requirement, met in shape.items() if not met]
    if missing:
        return Outcome("; ".join(shape), "missing: " + "; ".join(missing), False)
    checked = promtool("check", "rules", str(rules_file))
    if checked.returncode != 0:
        return Outcome("promtool check rules: SUCCESS",
                       (checked.stderr or checked.stdout).strip()[-400:], False)
    cases = [case for test in (read_yaml(tests_file) or {}).get("tests", [])
             for case in test.get("alert_rule_test", []) if case.get("alertname") == DRIFT_ALERT]
    fires = [bool(case.get("exp_alerts")) for case in cases]
    if not (any(fires) and not all(fires)):
        return Outcome(f"in {tests_file.name}, a case where {DRIFT_ALERT} fires and one where it does not",
                       f"{len(cases)} case(s) for {DRIFT_ALERT}", False)
    tested = promtool("test", "rules", str(tests_file))
    if tested.returncode != 0:
        return Outcome("promtool test rules: SUCCESS", (tested.stdout + tested.stderr).strip()[-600:], False)
    loaded = promql_rules(settings)
    return Outcome(f"{DRIFT_ALERT} loaded by the running Prometheus (reload it: "
                   "curl -X POST localhost:9090/-/reload)",
                   "loaded" if DRIFT_ALERT in loaded else "not among its rules", DRIFT_ALERT in loaded)


def promql_rules(settings: Settings) -> set[str]:
    try:
        groups = requests.get(f"{settings.prometheus_url}/api/v1/rules", timeout=HTTP_TIMEOUT).json()
    except requests.RequestException:
        raise NotYet(f"Prometheus answering at {settings.prometheus_url}", "no answer") from None
    return {rule["name"] for group in groups["data"]["groups"] for rule in group["rules"]}


def drift_hunt(settings: Settings) -> Outcome:
    detected = promql(settings, 'churn_data_drift_detected{job="churn-batch-prediction"}')
    if not detected or value_of(detected[0]) != 1:
        raise NotYet("the latest batch pushed with drift detected (score data/drifted.csv)",
                     "churn_data_drift_detected of the batch job is not 1")
    psi = {series["metric"]["feature"]: value_of(series)
           for series in promql(settings, 'churn_feature_drift_psi{job="churn-batch-prediction"}')}
    answers = read_yaml(EXERCISES_DIR / "answers.yml") or {}
    answer = str((answers if isinstance(answers, dict) else {}).get("most_drifted_feature") or "").strip()
    if not answer:
        raise NotYet("most_drifted_feature in tutorial/exercises/answers.yml", "it is still empty")
    chosen = next((feature for feature in psi if feature.lower() == answer.lower()), None)
    highest = max(psi.values())
    found = (f"{answer!r} is not a feature of the batch" if chosen is None
             else f"{chosen} has PSI {psi[chosen]:.3f}; the highest PSI is {highest:.3f}")
    return Outcome("the feature with the highest PSI in the latest batch", found,
                   chosen is not None and psi[chosen] == highest)


# --- Week 6 -------------------------------------------------------------------------------------

MAX_SILENCE = timedelta(hours=2, minutes=1)


def silence(settings: Settings) -> Outcome:
    try:
        silences = requests.get(f"{settings.alertmanager_url}/api/v2/silences", timeout=HTTP_TIMEOUT).json()
    except requests.RequestException:
        raise NotYet(f"Alertmanager answering at {settings.alertmanager_url}",
                     "no answer: is the stack running?") from None
    active = [one for one in silences if one["status"]["state"] == "active"]

    def problems(one: dict) -> list[str]:
        exact = {"name": "alertname", "value": "ApiDown", "isRegex": False}
        matchers = [matcher for matcher in one["matchers"]
                    if {key: matcher.get(key) for key in exact} == exact and matcher.get("isEqual", True)]
        lasts = datetime.fromisoformat(one["endsAt"]) - datetime.fromisoformat(one["startsAt"])
        return [problem for problem, wrong in (
            ("no exact matcher alertname=ApiDown", not matchers),
            (f"lasts {lasts}", lasts > MAX_SILENCE),
            ("no comment", not one.get("comment", "").strip()),
            ("no author", not one.get("createdBy", "").strip())) if wrong]

    judged = sorted((problems(one) for one in active), key=len)
    expected = "an active silence: alertname=ApiDown exactly, at most 2 hours, a comment and an author"
    if not judged:
        return Outcome(expected, "no active silence", False)
    return Outcome(expected, "; ".join(judged[0]) or "one", not judged[0])


def slo_burn_rate(settings: Settings) -> Outcome:
    slo = read_yaml(PROJECT_ROOT / "monitoring" / "slo.yml")["slos"]["availability"]
    window = {key: slo[key].replace("$window", "1h") for key in ("errors", "total")}
    reference = f"({window['errors']}) / ({window['total']}) / (1 - {slo['objective']})"
    now = time.time()
    errors = promql(settings, window["errors"], now)
    if not errors or not value_of(errors[0]) > 0:
        raise NotYet("server errors in the last hour, to measure a burn",
                     "none: run the load test with --scenario errors and check again")
    return same_answer(settings, "availability_burn_rate_1h", reference,
                       exercise_query("slo-burn-rate", "availability_burn_rate_1h"))


CHECKS: dict[str, Callable[[Settings], Outcome]] = {
    "first-lookup": first_lookup,
    "log-analysis": log_analysis,
    "log-retention": log_retention,
    "promql-basics": promql_basics,
    "country-metric": country_metric,
    "model-comparison-dashboard": model_comparison_dashboard,
    "country-panel": country_panel,
    "drift-alert": drift_alert,
    "drift-hunt": drift_hunt,
    "silence": silence,
    "slo-burn-rate": slo_burn_rate,
}
