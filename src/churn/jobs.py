"""The jobs the scripts run: one stage of the data's path, then its metrics published once.

Training, batch prediction and retraining only return what they produced; here each result
fills a fresh registry that is written beside the job's output and pushed under the job's own
name (DESIGN.md: churn-training, churn-batch-prediction, churn-retraining). `bootstrap` chains
the first two for the Compose stack.
"""

from pathlib import Path

from loguru import logger

from churn.batch import BatchResult, predict_batch
from churn.data.synthetic import DEFAULT_ROWS, DEFAULT_SEED, write_customers
from churn.metrics import (
    JOB_BATCH,
    JOB_RETRAINING,
    JOB_TRAINING,
    DriftGauges,
    batch_registry,
    retraining_registry,
    training_registry,
)
from churn.model.registry import LATEST
from churn.model.retraining import RetrainingRun, retrain
from churn.model.training import TrainingRun, train
from churn.publishing import publish, read_gauge
from churn.settings import Settings


def training_job(settings: Settings, data_path: Path | None = None, push: bool = True) -> TrainingRun:
    run = train(settings, data_path)
    publish(JOB_TRAINING, training_registry(run.metadata | {"version": run.version}), settings,
            settings.models_dir / run.version / "metrics.prom", push)
    return run


def batch_job(settings: Settings, data_path: Path | None = None, out_path: Path | None = None,
              push: bool = True) -> BatchResult:
    result = predict_batch(settings, data_path, out_path)
    textfile = result.out_path.with_suffix(".prom")
    # The batch before this one left its count in the same file: the spike alert compares them.
    previous = read_gauge(textfile, "churn_predictions_high_risk")
    registry = batch_registry(result.rows, result.by_level, result.average_score,
                              result.expected_churners, result.duration_seconds,
                              previous_high_risk=previous)
    DriftGauges.create(registry).record(result.drift, settings.drift_psi_threshold)
    publish(JOB_BATCH, registry, settings, textfile, push)
    return result


def retraining_job(settings: Settings, new_data: Path, base_data: Path | None = None,
                   push: bool = True) -> RetrainingRun:
    run = retrain(settings, new_data, base_data)
    publish(JOB_RETRAINING, retraining_registry(run.promoted, run.challenger_f2, run.champion_f2),
            settings, settings.models_dir / run.version / "retraining.prom", push)
    return run


def outdated(target: Path, *sources: Path) -> bool:
    """True when `target` is missing or older than any of `sources`."""
    return not target.exists() or any(target.stat().st_mtime < source.stat().st_mtime
                                      for source in sources)


def bootstrap(settings: Settings) -> None:
    """The Compose stack's first step: data, a model and batch predictions, each made only when
    missing or older than its input, as `make run` does (new data retrains, a new model
    re-scores). A restart of an unchanged stack changes nothing: the Pushgateway's persistence
    file kept the gauges pushed before."""
    data, model = settings.data_path, settings.models_dir / LATEST
    if not data.is_file():
        write_customers(data, DEFAULT_ROWS, DEFAULT_SEED)
    if outdated(model, data):
        training_job(settings)
    if outdated(settings.predictions_path, model, data):
        batch_job(settings)
    logger.success("bootstrap: {} and its predictions are up to date", data)
