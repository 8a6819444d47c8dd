"""Exports the catalogue's metrics from Prometheus over a time range, as CSV or JSON, for reports."""

import csv
import io
import json
import re
import time
from pathlib import Path

import requests
from loguru import logger

from churn.errors import ChurnError
from churn.files import check_writable, write_text_atomic
from churn.metrics import CATALOGUE_SERIES
from churn.settings import Settings

DURATION = re.compile(r"(\d+)([smhdw])")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds_of(duration: str) -> int:
    """'90s', '15m', '1h', '2d' -> seconds; a clear error for anything else."""
    match = DURATION.fullmatch(duration.strip())
    if not match or int(match[1]) == 0:
        raise ChurnError(f"{duration!r} is not a duration such as 30s, 15m, 1h or 7d")
    return int(match[1]) * SECONDS[match[2]]


def query_range(prometheus_url: str, series: str, start: float, end: float, step: int) -> list[dict]:
    try:
        answer = requests.get(f"{prometheus_url}/api/v1/query_range", timeout=30, params={
            "query": series, "start": start, "end": end, "step": step})
    except requests.RequestException as exc:
        raise ChurnError(f"Prometheus is not reachable at {prometheus_url} ({exc.__class__.__name__}); "
                         "is the stack running? (make monitoring, or docker compose up)") from None
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    if body.get("status") != "success":
        raise ChurnError(f"Prometheus at {prometheus_url} refused {series!r}: "
                         f"{body.get('error', answer.text[:200])}")
    return body["data"]["result"]


def rows_of(series_name: str, result: list[dict]) -> list[dict]:
    return [{"timestamp": float(timestamp), "metric": series_name,
             "labels": ";".join(f"{key}={value}" for key, value in sorted(series["metric"].items())
                                if key != "__name__"),
             "value": float(value)}
            for series in result for timestamp, value in series["values"]]


def export_metrics(settings: Settings, since: str, step: str, out: Path,
                   series: list[str] | None = None) -> int:
    """Writes every sample of `series` (default: the catalogue) over the last `since`; returns rows."""
    if out.suffix not in (".csv", ".json"):
        raise ChurnError(f"{out}: the output must end in .csv or .json")
    check_writable(out)
    end = time.time()
    start, step_seconds = end - seconds_of(since), seconds_of(step)
    rows = [row for name in (series or CATALOGUE_SERIES)
            for row in rows_of(name, query_range(settings.prometheus_url, name, start, end, step_seconds))]
    if out.suffix == ".json":
        text = json.dumps(rows, indent=1)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["timestamp", "metric", "labels", "value"])
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    write_text_atomic(out, text)
    logger.success("exported {} samples of {} series over the last {} to {}", len(rows),
                   len({(row["metric"], row["labels"]) for row in rows}), since, out)
    return len(rows)
