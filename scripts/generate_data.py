"""Writes a synthetic customers file in the bank-churn schema (seeded, offline)."""

import argparse
import sys
from pathlib import Path

from churn.cli import run_job
from churn.data.synthetic import DEFAULT_ROWS, DEFAULT_SEED, FIRST_CUSTOMER_ID, write_customers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help=f"number of customers (default {DEFAULT_ROWS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed; same seed, same file (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, help="output CSV (default: the configured data_path)")
    parser.add_argument("--drift", action="store_true",
                        help="shifted population: older, less active, more German customers")
    parser.add_argument("--first-id", type=int, default=FIRST_CUSTOMER_ID,
                        help="smallest CustomerId; give new customers ids of their own "
                             f"(default {FIRST_CUSTOMER_ID})")
    args = parser.parse_args()
    return run_job("data", lambda settings: write_customers(
        args.out or settings.data_path, args.rows, args.seed, drift=args.drift, first_id=args.first_id))


if __name__ == "__main__":
    sys.exit(main())
