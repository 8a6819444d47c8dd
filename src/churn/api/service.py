"""What the API serves: a verified model, its scorer and the prediction store, loaded together.

A Service's model never changes; a reload builds a new Service and swaps the reference, so
requests already running finish with the model they started with, validated against the request
bodies of that model (built here, from its features and trained categories). Only its prediction
store (live scores remembered) and its drift window grow as requests arrive.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from loguru import logger

from churn.api.schemas import RequestModels, request_models
from churn.api.store import PredictionStore
from churn.batch import read_predictions, unscored_customers
from churn.drift import SCORE, Binning, Drift, DriftWindow
from churn.logs import write_record
from churn.metrics import ApiMetrics
from churn.model.registry import LoadedModel, load_model
from churn.model.scoring import Scorer, check_features, trained_categories
from churn.settings import Settings


@dataclass(frozen=True)
class Service:
    model: LoadedModel
    scorer: Scorer
    requests: RequestModels
    store: PredictionStore
    # Drift of this model's inputs: a reload starts a fresh window against the new profile.
    drift: DriftWindow

    @property
    def version(self) -> str:
        return self.model.version


def load_service(settings: Settings) -> Service:
    """Loads the latest model and the predictions file; raises ChurnError saying what is wrong."""
    model = load_model(settings.models_dir)
    check_features(model, settings)
    categories = trained_categories(model)
    requests = request_models(model.metadata["features"], categories, settings.api_max_batch)
    table = read_predictions(settings.predictions_path)
    store = PredictionStore(table.ids, table.probabilities, table.model_version,
                            unscored=unscored_customers(settings, table.ids, categories))
    if table.model_version != model.version:
        logger.warning("predictions were made by model {} but {} is latest; run "
                       "scripts/predict_batch.py to refresh them", table.model_version, model.version)
    logger.info("loaded model {} with {} precomputed predictions and {} customers to score live",
                model.version, len(table.ids), len(store.unscored))
    binning = Binning(model.metadata["reference_profile"])
    return Service(model=model, scorer=Scorer(model), requests=requests, store=store,
                   drift=DriftWindow(binning, settings.drift_window_size))


def activate(service: Service, metrics: ApiMetrics) -> None:
    """Makes the metrics describe `service`; the caller then puts it in front of requests."""
    metrics.serve_model(service.version, service.model.metadata["algorithm"])
    metrics.predictions_loaded.set(len(service.store))
    metrics.drift.record(Drift.none_yet(service.drift.binning.features), threshold=float("inf"))


def observe_inputs(service: Service, customers: list[dict], probabilities: list[float],
                   settings: Settings, metrics: ApiMetrics) -> None:
    """Feeds scored inputs to the drift window, refreshes the drift gauges, samples inputs to disk."""
    columns = {name: [customer.get(name) for customer in customers]
               for name in service.drift.binning.features} | {SCORE: probabilities}
    service.drift.add(service.drift.binning.bins(columns))
    if (drift := service.drift.judged(settings.drift_min_rows)) is not None:
        metrics.drift.record(drift, settings.drift_psi_threshold)
    if settings.log_input_samples > 0:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        for customer, probability in zip(customers, probabilities, strict=True):
            if random.random() < settings.log_input_samples:
                write_record("input_samples", {"time": now} | customer
                             | {"churn_probability": probability})
