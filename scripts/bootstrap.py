"""Makes what the API needs, only where missing or out of date: data, a model, batch predictions."""

import argparse
import sys

from churn.cli import run_job
from churn.jobs import bootstrap


def main() -> int:
    argparse.ArgumentParser(description=__doc__).parse_args()
    return run_job("bootstrap", bootstrap)


if __name__ == "__main__":
    sys.exit(main())
