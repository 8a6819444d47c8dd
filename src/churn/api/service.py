"""What the API serves: a verified model, its scorer and the prediction store, loaded together.

A Service is immutable once built; a reload builds a new one and swaps the reference, so requests
already running finish with the model they started with.
"""

from dataclasses import dataclass

from loguru import logger

from churn.api.store import PredictionStore
from churn.batch import read_predictions, unscored_customers
from churn.metrics import ApiMetrics
from churn.model.registry import LoadedModel, load_model
from churn.model.scoring import Scorer, check_features
from churn.settings import Settings


@dataclass(frozen=True)
class Service:
    model: LoadedModel
    scorer: Scorer
    store: PredictionStore

    @property
    def version(self) -> str:
        return self.model.version


def load_service(settings: Settings) -> Service:
    """Loads the latest model and the predictions file; raises ChurnError saying what is wrong."""
    model = load_model(settings.models_dir)
    check_features(model, settings)
    table = read_predictions(settings.predictions_path)
    store = PredictionStore(table.ids, table.probabilities, table.model_version,
                            unscored=unscored_customers(settings, table.ids))
    if table.model_version != model.version:
        logger.warning("predictions were made by model {} but {} is latest; run "
                       "scripts/predict_batch.py to refresh them", table.model_version, model.version)
    logger.info("serving model {} with {} precomputed predictions and {} customers to score live",
                model.version, len(table.ids), len(store.unscored))
    return Service(model=model, scorer=Scorer(model), store=store)


def activate(service: Service, metrics: ApiMetrics) -> None:
    """Makes the metrics describe `service`; the caller then puts it in front of requests."""
    metrics.serve_model(service.version, service.model.metadata["algorithm"])
    metrics.predictions_loaded.set(len(service.store))
