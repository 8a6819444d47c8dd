"""Scores every customer with the latest model and writes the predictions file."""

import argparse
import sys
from pathlib import Path

from churn.cli import add_push_option, run_job
from churn.jobs import batch_job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="customers CSV (default: the configured data_path)")
    parser.add_argument("--out", type=Path, help="predictions CSV (default: the configured predictions_path)")
    add_push_option(parser)
    args = parser.parse_args()
    return run_job("prediction", lambda settings: batch_job(settings, args.data, args.out,
                                                                  push=not args.no_push))


if __name__ == "__main__":
    sys.exit(main())
