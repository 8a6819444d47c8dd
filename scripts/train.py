"""Trains a churn model on a customers file and registers it as the latest version."""

import argparse
import sys
from pathlib import Path

from churn.cli import add_push_option, run_job
from churn.jobs import training_job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="customers CSV (default: the configured data_path)")
    add_push_option(parser)
    args = parser.parse_args()
    return run_job("training", lambda settings: training_job(settings, args.data, push=not args.no_push))


if __name__ == "__main__":
    sys.exit(main())
