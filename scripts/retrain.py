"""Retrains on current plus new data and promotes the challenger only if its F2 holds up."""

import argparse
import sys
from pathlib import Path

from churn.cli import add_push_option, run_job
from churn.jobs import retraining_job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--new-data", type=Path, required=True, help="CSV of new labelled customers")
    parser.add_argument("--data", type=Path,
                        help="current customers CSV, rewritten as the merged table on promotion "
                             "(default: the configured data_path)")
    add_push_option(parser)
    args = parser.parse_args()
    return run_job("retraining", lambda settings: retraining_job(settings, args.new_data, args.data,
                                                                push=not args.no_push))


if __name__ == "__main__":
    sys.exit(main())
