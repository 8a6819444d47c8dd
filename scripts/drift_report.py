"""Writes a self-contained HTML drift report of a data file against the training data."""

import argparse
import sys
from pathlib import Path

from churn.cli import run_job
from churn.report import drift_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--current", type=Path, required=True,
                        help="customers CSV, or logs/input_samples.jsonl of the API")
    parser.add_argument("--reference", default="model",
                        help="'model' (the latest model's training profile, default) or a customers CSV")
    parser.add_argument("--out", type=Path, default=Path("drift-report.html"),
                        help="the HTML file to write (default drift-report.html)")
    args = parser.parse_args()
    return run_job("report", lambda settings: drift_report(settings, args.current, args.out,
                                                           args.reference))


if __name__ == "__main__":
    sys.exit(main())
