"""Checks the course's exercises against your working copy and running stack.

  list           every exercise and where you stand
  show <id>      what an exercise asks
  check <id>     pass or fail, what was expected and found, and the next hint
  hint <id>      the next hint without checking
"""

import argparse
import sys

from churn.cli import EXIT_FAILED, EXIT_OK
from churn.course import exercises
from churn.errors import ChurnError
from churn.settings import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "show", "check", "hint"])
    parser.add_argument("exercise", nargs="?", help="an exercise id, as `list` shows them")
    args = parser.parse_args()
    if args.command != "list" and not args.exercise:
        parser.error(f"{args.command} needs an exercise id (see: scripts/exercise.py list)")
    try:
        if args.command == "list":
            exercises.list_progress()
        elif args.command == "show":
            exercises.show(args.exercise)
        elif args.command == "hint":
            exercises.hint(args.exercise)
        elif not exercises.check(args.exercise, load_settings()):
            return EXIT_FAILED
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
