"""How every script runs a job: settings, logging, and one clear line instead of a traceback."""

import argparse
import sys
from collections.abc import Callable

from loguru import logger

from churn import logs
from churn.errors import ChurnError
from churn.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED = 0, 1


def port_number(text: str) -> int:
    """An argparse type: a TCP port a server can listen on."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return int(text)


def positive_count(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def share(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share from 0 to 1")
    return value


def positive_number(text: str) -> float:
    """An argparse type: a number over 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number over 0")
    return value


def add_push_option(parser: argparse.ArgumentParser) -> None:
    """--no-push, for the jobs that push their metrics when they finish."""
    parser.add_argument("--no-push", action="store_true",
                        help="write the metrics file but do not push to the Pushgateway")


def run_job(component: str, job: Callable[[Settings], object]) -> int:
    """Runs `job` with the settings in force; user errors exit 1 with their message on stderr."""
    try:
        settings = load_settings()
        logs.setup(component, settings)
    except ChurnError as exc:  # before the log is set up: the message goes to stderr alone
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        job(settings)
    except ChurnError as exc:
        logger.error("{}", exc)
        return EXIT_FAILED
    return EXIT_OK
