"""Runs the API under uvicorn, with one worker or several sharing their metrics.

With several workers each is its own process; prometheus-client's multiprocess mode has them
write their metrics to files in one directory, which /metrics sums. The directory must start
empty, or a previous run's counters would be added in.
"""

import os
import shutil

import uvicorn

from churn.settings import Settings


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    if workers > 1:
        directory = settings.multiprocess_dir
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        # Read by prometheus-client when each worker imports it, so it must be set before.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    uvicorn.run("churn.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False)
