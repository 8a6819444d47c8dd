"""The Prometheus command-line tools: required under CI, skipped with a reason elsewhere."""

import os
import shutil

import pytest


def require(binary: str) -> str:
    """Path of `binary`; skips the test when it is missing, unless running under CI."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is missing under CI=true: .ci/run must install it")
        pytest.skip(f"{binary} not installed (Debian: apt-get install prometheus "
                    "prometheus-pushgateway prometheus-alertmanager)")
    return path
