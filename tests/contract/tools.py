"""What a test needs from the machine: required under CI, skipped with a reason elsewhere."""

import os
import shutil

import pytest

# Debian's packages of the monitoring stack's programs (the native stack and its tests).
STACK_BINARIES = ("prometheus", "prometheus-pushgateway", "prometheus-alertmanager",
                  "prometheus-blackbox-exporter")


def unavailable(reason: str) -> None:
    """Skips the test for `reason`; under CI=true, where everything must run, fails it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} under CI=true: .ci/run must provide it")
    pytest.skip(reason)


def require(binary: str) -> str:
    """Path of `binary`; skips the test when it is missing, unless running under CI."""
    path = shutil.which(binary)
    if path is None:
        unavailable(f"{binary} is not installed (Debian: apt-get install {' '.join(STACK_BINARIES)})")
    return path
