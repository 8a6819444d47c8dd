"""Serves the churn API on :8000 (several workers share their metrics)."""

import argparse
import sys

from churn.api.server import serve
from churn.cli import port_number, positive_count, run_job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--workers", type=positive_count, default=1, help="worker processes (default 1)")
    args = parser.parse_args()
    return run_job("api", lambda settings: serve(settings, args.host, args.port, args.workers))


if __name__ == "__main__":
    sys.exit(main())
