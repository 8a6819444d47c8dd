"""How every script runs a job: settings, logging, and one clear line instead of a traceback."""

import argparse
import sys
from collections.abc import Callable

from loguru import logger

from churn import logs
from churn.errors import ChurnError
from churn.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED = 0, 1


def add_push_option(parser: argparse.ArgumentParser) -> None:
    """--no-push, for the jobs that push their metrics when they finish."""
    parser.add_argument("--no-push", action="store_true",
                        help="write the metrics file but do not push to the Pushgateway")


def run_job(component: str, job: Callable[[Settings], object]) -> int:
    """Runs `job` with the settings in force; user errors exit 1 with their message on stderr."""
    try:
        settings = load_settings()
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    logs.setup(component, settings)
    try:
        job(settings)
    except ChurnError as exc:
        logger.error("{}", exc)
        return EXIT_FAILED
    return EXIT_OK
