"""monitoring/grafana/ as Grafana 12.2 provisions it: valid keys, fixed uids, and dashboards whose
every panel is readable (unit, description, no overlap) and reads the catalogue the right way."""

import re
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from churn.drift import Drift
from churn.metrics import (
    ApiMetrics,
    DriftGauges,
    batch_registry,
    retraining_registry,
    training_registry,
)
from churn.ops.dashboards import grid_problems
from tests.contract.dashboards import (
    DASHBOARDS,
    annotation_queries,
    as_promql,
    dashboards,
    panel_queries,
    panels,
)
from tests.contract.tools import require
from tests.helpers import REPO

GRAFANA = REPO / "monitoring" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
RULES = sorted((REPO / "monitoring" / "prometheus" / "rules").glob("*.rules.yml"))
SLO_SPEC = REPO / "monitoring" / "slo.yml"

# DESIGN.md, "Ports and names": the folder and the dashboards it holds, each name its uid.
FOLDER = "MLOps Monitoring"
DESIGN_DASHBOARDS = {"api-health", "ml-metrics", "business-churn", "data-drift", "slo", "overview"}
# Keys of Grafana 12's provisioning files (docs: administration/provisioning).
DATASOURCE_FILE_KEYS = {"apiVersion", "datasources", "deleteDatasources", "prune"}
DATASOURCE_KEYS = {"name", "type", "uid", "access", "orgId", "url", "user", "database", "basicAuth",
                   "basicAuthUser", "withCredentials", "isDefault", "jsonData", "secureJsonData",
                   "version", "editable"}
PROVIDER_FILE_KEYS = {"apiVersion", "providers"}
PROVIDER_KEYS = {"name", "orgId", "folder", "folderUid", "type", "editable", "disableDeletion",
                 "updateIntervalSeconds", "allowUiUpdates", "options"}
PROVIDER_OPTIONS = {"path", "foldersFromFilesStructure"}
# The Grafana that docker-compose.yml pins, which the keys and panel types below are checked for.
GRAFANA_VERSION = "12.2"
# Panel types built into Grafana 12.2: no plugin to install.
CORE_PANELS = {"row", "timeseries", "stat", "gauge", "bargauge", "barchart", "table", "text",
               "piechart", "state-timeline", "status-history", "heatmap", "histogram", "alertlist",
               "dashlist", "annolist", "news", "logs", "nodeGraph", "traces", "flamegraph", "geomap",
               "canvas", "xychart", "trend", "candlestick", "datagrid"}
# Panels whose values have no single unit: text, lists of things, tables of labels.
UNITLESS = {"row", "text", "table", "alertlist", "dashlist", "annolist", "news"}
# Green is fine, yellow is watch, red is act; blue is neutral (a count, not a verdict).
COLOURS = {"green", "yellow", "red", "blue", "transparent", "text"}
# What Prometheus itself records next to the scraped and pushed series.
PROMETHEUS_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
# What the blackbox exporter answers for each probe (monitoring/blackbox/blackbox.yml).
PROBE_SERIES = {"probe_success", "probe_duration_seconds"}
RATE_FUNCTIONS = re.compile(r"\b(?:rate|irate|increase)\(\s*$")
COUNTER = re.compile(r"(?<![\w:])[a-zA-Z_]\w*(?:_total|_bucket|_count|_sum)(?![\w:])")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w:.$])[a-zA-Z_:][\w:]*\b(?!\s*\()")
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
GRAFANA_WINDOWS = {"$__rate_interval", "$__range", "$__interval"}


def blank_strings(expr: str) -> str:
    """`expr` with every string literal's content blanked, same length (label values hold braces)."""
    return STRING.sub(lambda match: '"' + " " * (len(match.group(0)) - 2) + '"', expr)


def metric_names(expr: str) -> set[str]:
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", blank_strings(expr))
    return {name for name in IDENTIFIER.findall(GROUPING.sub(" ", text)) if name not in KEYWORDS}


def exposed_series() -> set[str]:
    """Every series name the API and the three jobs produce (churn.metrics, DESIGN.md's catalogue)."""
    api = CollectorRegistry()
    metrics = ApiMetrics.create(api)
    metrics.initialise([("GET", "/churn/{customer_id}")])
    metrics.serve_model("v1", "logistic")
    metrics.drift.record(Drift.none_yet(["Age"]), threshold=0.25)
    training = training_registry({
        "metrics": dict.fromkeys(("f2", "roc_auc", "pr_auc", "precision", "recall", "brier",
                                  "calibration_error"), 0.5),
        "threshold": 0.5, "training_duration_seconds": 1.0, "rows": {"train": 1},
        "version": "v1", "algorithm": "logistic"})
    batch = batch_registry(1, {"high": 1}, 0.5, 0.5, 1.0, previous_high_risk=1)
    DriftGauges.create(batch).record(Drift.none_yet(["Age"]), threshold=0.25)
    registries = (api, training, batch, retraining_registry(True, 0.7, 0.7))
    return {sample.name for registry in registries for family in registry.collect()
            for sample in family.samples}


def recording_rules() -> set[str]:
    return {rule["record"] for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def provisioned_datasources() -> list[dict]:
    return yaml.safe_load(DATASOURCES.read_text())["datasources"]


def all_panels() -> list[tuple[str, dict]]:
    return [(uid, panel) for uid, board in dashboards().items() for panel in panels(board)]


def all_queries() -> list[tuple[str, str, str]]:
    """Panel and annotation queries alike: Grafana sends both to Prometheus."""
    return panel_queries() + annotation_queries()


def test_compose_pins_the_grafana_these_files_are_checked_for():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    image = compose["services"]["grafana"]["image"]
    assert image.startswith(f"grafana/grafana:{GRAFANA_VERSION}."), image


def test_datasource_file_uses_only_grafana_keys():
    config = yaml.safe_load(DATASOURCES.read_text())
    assert set(config) <= DATASOURCE_FILE_KEYS and config["apiVersion"] == 1, set(config)
    for source in config["datasources"]:
        assert set(source) <= DATASOURCE_KEYS, f"{source['name']}: {set(source) - DATASOURCE_KEYS}"


def test_datasources_have_designs_fixed_uids_and_addresses():
    sources = {source["uid"]: source for source in provisioned_datasources()}
    assert set(sources) == {"prometheus", "alertmanager"}, set(sources)
    prometheus, alertmanager = sources["prometheus"], sources["alertmanager"]
    assert (prometheus["type"], prometheus["url"], prometheus["isDefault"]) == (
        "prometheus", "http://prometheus:9090", True), prometheus
    # $__rate_interval is at least four times this: it must be the longest scrape interval.
    assert prometheus["jsonData"]["timeInterval"] == "15s", prometheus["jsonData"]
    assert (alertmanager["type"], alertmanager["url"]) == ("alertmanager", "http://alertmanager:9093")
    assert alertmanager["jsonData"] == {"implementation": "prometheus",
                                        "handleGrafanaManagedAlerts": False}, alertmanager["jsonData"]
    assert all(source["editable"] is False for source in sources.values()), "a data source is editable"


def test_dashboard_provider_loads_the_mounted_folder_read_only():
    config = yaml.safe_load(PROVIDERS.read_text())
    assert set(config) <= PROVIDER_FILE_KEYS and config["apiVersion"] == 1, set(config)
    (provider,) = config["providers"]
    assert set(provider) <= PROVIDER_KEYS, set(provider) - PROVIDER_KEYS
    assert set(provider["options"]) <= PROVIDER_OPTIONS, set(provider["options"]) - PROVIDER_OPTIONS
    assert (provider["type"], provider["folder"], provider["options"]["path"]) == (
        "file", FOLDER, "/etc/grafana/dashboards"), provider
    assert provider["disableDeletion"] is True and provider["allowUiUpdates"] is False, provider
    assert 10 <= provider["updateIntervalSeconds"] <= 300, provider["updateIntervalSeconds"]


def test_dashboard_uids_are_their_file_names_and_designs_names():
    files = {path.stem: path for path in DASHBOARDS.glob("*.json")}
    uids = {uid: board for uid, board in dashboards().items()}
    assert set(uids) == set(files), f"uids {sorted(uids)} differ from file names {sorted(files)}"
    # DESIGN.md's dashboards, and any a student adds (the course's model-comparison exercise).
    assert set(uids) >= DESIGN_DASHBOARDS, sorted(DESIGN_DASHBOARDS - set(uids))


@pytest.mark.parametrize("uid", sorted(dashboards()))
def test_dashboard_is_plain_provisioning_json(uid):
    board = dashboards()[uid]
    assert "__inputs" not in board and board["id"] is None, f"{uid} is an export, not provisioning"
    assert 39 <= board["schemaVersion"] <= 42, f"{uid}: schemaVersion {board['schemaVersion']}"
    assert board["time"] in ({"from": "now-1h", "to": "now"}, {"from": "now-30m", "to": "now"}), uid
    assert board["refresh"] in {"10s", "30s"} and board["tags"] and board["title"], uid


def test_every_panel_is_a_core_grafana_panel():
    odd = [(uid, panel["title"], panel["type"]) for uid, panel in all_panels()
           if panel["type"] not in CORE_PANELS]
    assert not odd, f"panel types that need a plugin: {odd}"


def test_every_panel_names_a_provisioned_datasource_by_uid():
    uids = {source["uid"]: source["type"] for source in provisioned_datasources()}
    wrong = []
    for uid, panel in all_panels():
        targets = panel.get("targets", [])
        sources = [panel.get("datasource"), *(target.get("datasource") for target in targets)]
        if targets and any(not isinstance(source, dict)
                           or uids.get(source.get("uid")) != source.get("type") for source in sources):
            wrong.append((uid, panel["title"]))
    for uid, board in dashboards().items():
        for variable in board.get("templating", {}).get("list", []):
            if variable["type"] == "query" and uids.get(variable["datasource"]["uid"]) is None:
                wrong.append((uid, f"variable {variable['name']}"))
    assert not wrong, f"panels without a provisioned data source uid (and its type): {wrong}"


def test_every_annotation_names_a_provisioned_datasource_and_has_a_query():
    uids = {source["uid"]: source["type"] for source in provisioned_datasources()}
    wrong = [(uid, annotation["name"]) for uid, board in dashboards().items()
             for annotation in board.get("annotations", {}).get("list", [])
             if not annotation.get("builtIn")
             and (not isinstance(source := annotation.get("datasource"), dict)
                  or uids.get(source.get("uid")) != source.get("type"))]
    assert not wrong, f"annotations without a provisioned data source uid (and its type): {wrong}"
    # Grafana 12 keeps an annotation's PromQL in its target; a top-level expr is the old format.
    empty = [(uid, name) for uid, name, expr in annotation_queries() if not expr.strip()]
    assert not empty, f"Prometheus annotations without target.expr: {empty}"


@pytest.mark.parametrize("uid", sorted(dashboards()))
def test_panels_do_not_overlap_on_the_24_column_grid(uid):
    assert grid_problems(dashboards()[uid]) == []


def test_every_panel_has_a_description_and_a_unit():
    missing = [(uid, panel["title"]) for uid, panel in all_panels() if panel["type"] != "row"
               and (not panel.get("description")
                    or (panel["type"] not in UNITLESS and not panel["fieldConfig"]["defaults"].get("unit")))]
    assert not missing, f"panels without a description or a unit: {missing}"


def test_thresholds_use_the_same_colours_everywhere():
    colours = {(uid, panel["title"], step["color"]) for uid, panel in all_panels()
               for config in [panel.get("fieldConfig", {}).get("defaults", {})]
               for step in config.get("thresholds", {}).get("steps", [])}
    odd = [colour for colour in colours if colour[2] not in COLOURS]
    assert not odd, f"threshold colours outside green/yellow/red (and neutral blue): {odd}"


def test_counters_are_read_only_through_rate_or_increase():
    raw = [(uid, title, match.group(0)) for uid, title, expr in all_queries()
           for text in [blank_strings(expr)] for match in COUNTER.finditer(text)
           if not RATE_FUNCTIONS.search(text[:match.start()])]
    assert not raw, f"counters read raw (their value only says how long the process lived): {raw}"


def test_range_windows_are_grafanas_intervals():
    fixed = [(uid, title, window) for uid, title, expr in all_queries()
             for window in re.findall(r"\[([^\]]*)\]", blank_strings(expr))
             if window not in GRAFANA_WINDOWS]
    assert not fixed, f"windows that ignore the scrape interval or the time picker: {fixed}"


def test_every_metric_is_in_the_catalogue_or_a_recording_rule():
    known = exposed_series() | recording_rules() | PROMETHEUS_SERIES | PROBE_SERIES
    unknown = [(uid, title, name) for uid, title, expr in all_queries()
               for name in metric_names(expr) if name not in known]
    assert not unknown, f"metrics that nothing exposes or records: {unknown}"


def test_promtool_parses_every_panel_and_annotation_query(tmp_path):
    promtool = require("promtool")
    queries = all_queries()
    # promtool checks no standalone expression; as recording rules, each one is parsed.
    rules = [{"record": f"dashboard:query{number}:check", "expr": as_promql(expr)}
             for number, (_, _, expr) in enumerate(queries)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                            check=False)
    numbered = "\n".join(f"query{number}: {uid} / {title}" for number, (uid, title, _) in enumerate(queries))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{numbered}"


def test_slo_dashboard_turns_green_at_the_objectives_of_slo_yml():
    # Grafana cannot read a threshold from a variable: the SLI tile holds one per SLO, by name.
    spec = yaml.safe_load(SLO_SPEC.read_text())["slos"]
    (tile,) = [panel for panel in panels(dashboards()["slo"])
               if panel["title"] == "SLI over the last 30 days"]
    green_from = {override["matcher"]["options"]: step["value"]
                  for override in tile["fieldConfig"]["overrides"]
                  for setting in override["properties"] if setting["id"] == "thresholds"
                  for step in setting["value"]["steps"] if step["color"] == "green"}
    assert green_from == {name: slo["objective"] for name, slo in spec.items()}, green_from
    (variable,) = dashboards()["slo"]["templating"]["list"]
    assert variable["current"]["value"] in spec, variable["current"]


def test_the_latency_panel_shows_exemplars_from_the_raw_histogram():
    """Recording rules carry no exemplars: the panel must query the buckets themselves."""
    targets = [target for panel in panels(dashboards()["api-health"])
               if panel["title"] == "p95 latency by endpoint" for target in panel["targets"]]
    assert targets and all(target.get("exemplar") is True for target in targets)
    assert all("api_request_duration_seconds_bucket" in target["expr"] for target in targets)
