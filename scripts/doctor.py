"""Preflight checks before class, and whenever something is wrong: prints one line per check
(ok, warn, FAIL or skip) and, under each warn and FAIL, the commands that fix it.

  machine  Python 3.11+, the pinned packages, Docker and Compose v2, free disk, and the stack's
           ports (8000, 9090, 9091, 9093, 9095, 9115, 3000) free or held by this stack
  project  data, trained model and predictions present; logs/ and the multiprocess folder writable
  stack    when it runs: the API ready, the Compose containers healthy, Prometheus' targets up,
           honor_labels in force, the Pushgateway's groups recent, the served model the latest
           trained, Grafana's datasource healthy

The URLs come from the settings (CHURN_API_URL, CHURN_PROMETHEUS_URL, ...). Exits 0 when nothing
FAILs (warnings allowed), 1 otherwise. tutorial/TROUBLESHOOTING.md explains each pitfall.
"""

import argparse
import sys

try:
    from churn.ops.doctor import SECTIONS, run, stale_duration
except ImportError as exc:  # the doctor's first finding: not run by the project's venv, or a broken one
    sys.exit(f"[FAIL] python         cannot import the project: {exc}\n"
             "       fix: make setup   (or: .venv/bin/python -m pip install -r requirements.txt)\n"
             "            then: .venv/bin/python scripts/doctor.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable; default: all three)")
    parser.add_argument("--stale-after", type=stale_duration, default="1d", metavar="DURATION",
                        help="warn about Pushgateway groups pushed longer ago than this, "
                             "e.g. 12h or 2d (default 1d)")
    args = parser.parse_args()
    return run(args.only or SECTIONS, args.stale_after)


if __name__ == "__main__":
    sys.exit(main())
