"""Exports the catalogue's metrics from Prometheus over a time range to CSV or JSON."""

import argparse
import sys
from pathlib import Path

from churn.cli import run_job
from churn.ops.export import export_metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--since", default="1h", help="how far back, e.g. 30m, 1h, 7d (default 1h)")
    parser.add_argument("--step", default="15s", help="time between samples (default 15s)")
    parser.add_argument("--out", type=Path, default=Path("metrics-export.csv"),
                        help="output file, .csv or .json (default metrics-export.csv)")
    parser.add_argument("--metric", action="append", dest="series",
                        help="a series to export instead of the whole catalogue (repeatable)")
    args = parser.parse_args()
    return run_job("export", lambda settings: export_metrics(
        settings, args.since, args.step, args.out, args.series))


if __name__ == "__main__":
    sys.exit(main())
