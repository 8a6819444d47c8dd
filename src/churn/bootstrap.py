"""The Compose stack's first step: data, a model and batch predictions, so that the API has
customers to serve and the ML dashboards have pushed gauges from the first start.

Each step runs only when its output is missing or older than its input, as `make run` does: new
data retrains, a new model re-scores, and a restart of an unchanged stack changes nothing (the
gauges it pushed before are kept by the Pushgateway's persistence file).
"""

from pathlib import Path

from loguru import logger

from churn.batch import predict_batch
from churn.data.synthetic import DEFAULT_ROWS, DEFAULT_SEED, write_customers
from churn.model.registry import LATEST
from churn.model.training import train
from churn.settings import Settings


def outdated(target: Path, *sources: Path) -> bool:
    """True when `target` is missing or older than any of `sources`."""
    return not target.exists() or any(target.stat().st_mtime < source.stat().st_mtime
                                      for source in sources)


def bootstrap(settings: Settings) -> None:
    data, model = settings.data_path, settings.models_dir / LATEST
    if not data.is_file():
        write_customers(data, DEFAULT_ROWS, DEFAULT_SEED)
    if outdated(model, data):
        train(settings)
    if outdated(settings.predictions_path, model, data):
        predict_batch(settings)
    logger.success("bootstrap: {} and its predictions are up to date", data)
