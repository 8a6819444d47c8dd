"""A job's metrics leave the process here: a text file beside the job's output, then one push.

Each job fills a fresh registry once it has succeeded and publishes it under its own job name, so
one job never replaces another's group on the Pushgateway (client_python's Pushgateway docs show
this shape). An unreachable Pushgateway costs a warning, never the job's results: the text file
keeps the values, in the format the Pushgateway accepts, for a later `curl --data-binary @file`.
"""

from http.client import HTTPException
from pathlib import Path

from loguru import logger
from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway
from prometheus_client.parser import text_string_to_metric_families

from churn.errors import OutputError
from churn.files import write_text_atomic
from churn.settings import Settings

# What a push can raise besides OSError (URLError, HTTPError, timeouts): ValueError for a URL
# urllib cannot parse ("http://[x"), http.client.InvalidURL for a bad port or a space in it.
PUSH_ERRORS = (OSError, ValueError, HTTPException)


def read_gauge(textfile: Path, name: str) -> float | None:
    """A value from a metrics file an earlier run published, or None if there is none."""
    if not textfile.is_file():
        return None
    for family in text_string_to_metric_families(textfile.read_text(encoding="utf-8")):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


def publish(job: str, registry: CollectorRegistry, settings: Settings, textfile: Path,
            push: bool = True) -> bool:
    """Writes the job's metrics to `textfile`, then pushes them; True if the push went through.

    Neither step can fail the job, whose results are written by now: each failure is a warning.
    """
    try:
        write_text_atomic(textfile, generate_latest(registry).decode("utf-8"))
        kept = f"they are kept in {textfile}"
    except OutputError as exc:
        logger.warning("the {} metrics are not kept in a file: {}", job, exc)
        kept = "nor kept in a file"
    if not push:
        logger.info("metrics of {} not pushed (--no-push); {}", job, kept)
        return False
    try:
        push_to_gateway(settings.pushgateway_url, job=job, registry=registry,
                        timeout=settings.pushgateway_timeout_seconds)
    except PUSH_ERRORS as exc:
        logger.warning("could not push {} metrics to the Pushgateway at {} ({}); {}",
                       job, settings.pushgateway_url, getattr(exc, "reason", exc), kept)
        return False
    logger.info("metrics of {} pushed to {} and written to {}", job, settings.pushgateway_url, textfile)
    return True
