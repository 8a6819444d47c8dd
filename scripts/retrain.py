"""Retrains on current plus new data and promotes the challenger only if its F2 holds up."""

import argparse
import sys
from pathlib import Path

from churn.cli import run_job
from churn.model.retraining import retrain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--new-data", type=Path, required=True, help="CSV of new labelled customers")
    parser.add_argument("--data", type=Path,
                        help="current customers CSV, rewritten as the merged table on promotion "
                             "(default: the configured data_path)")
    parser.add_argument("--no-push", action="store_true",
                        help="write the metrics file but do not push to the Pushgateway")
    args = parser.parse_args()
    return run_job("retraining", lambda settings: retrain(settings, args.new_data, args.data,
                                                                push=not args.no_push))


if __name__ == "__main__":
    sys.exit(main())
