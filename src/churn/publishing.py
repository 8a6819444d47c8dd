"""A job's metrics leave the process here: a text file beside the job's output, then one push.

Each job fills a fresh registry once it has succeeded and publishes it under its own job name, so
one job never replaces another's group on the Pushgateway (client_python's Pushgateway docs show
this shape). An unreachable Pushgateway costs a warning, never the job's results: the text file
keeps the values, in the format the Pushgateway accepts, for a later `curl --data-binary @file`.
"""

from pathlib import Path

from loguru import logger
from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

from churn.settings import Settings


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
    """Writes the job's metrics to `textfile`, then pushes them; True if the push went through."""
    write_to_textfile(str(textfile), registry)
    if not push:
        logger.info("metrics of {} written to {} (not pushed: --no-push)", job, textfile)
        return False
    try:
        push_to_gateway(settings.pushgateway_url, job=job, registry=registry,
                        timeout=settings.pushgateway_timeout_seconds)
    except OSError as exc:  # URLError and HTTPError are OSErrors too
        logger.warning("could not push {} metrics to the Pushgateway at {} ({}); they are kept in {}",
                       job, settings.pushgateway_url, getattr(exc, "reason", exc), textfile)
        return False
    logger.info("metrics of {} pushed to {} and written to {}", job, settings.pushgateway_url, textfile)
    return True
