"""Every metric of the DESIGN.md catalogue, declared once and bound to a registry the caller owns.

The API's are scraped: every labelled series a dashboard or an alert reads is created at
start-up with a zero, so a fresh service shows flat lines instead of "No data" and absent()
only fires when it should. The jobs' are filled once a run has succeeded and published by
churn.publishing.
"""

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from churn.drift import Drift
from churn.risk import RISK_LEVELS

if TYPE_CHECKING:  # only a type hint: importing it would load starlette into every batch job
    from prometheus_fastapi_instrumentator.metrics import Info

# Every latency threshold a rule, SLO or panel uses must be one of these (2 s: the course's alert).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5)
# Tenths, so the risk thresholds (0.5, 0.7) are bucket boundaries.
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SOURCES = ("cache", "model")
# Customers scored by one predict_proba call: 1 when requests come one at a time; more when they
# wait for a call in progress and are scored together (churn.api.batching), up to a /predict/batch.
SCORING_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORING_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
# Methods outside these share one label value, as unknown paths share "none": a client sending
# made-up methods cannot create series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
MAX_EXEMPLAR_ID = 128 - len("request_id")
# What the demo fault switch can inject (churn.api.faults): server errors and added latency.
FAULT_KINDS = ("errors", "latency")


def exemplar_of(request_id: str) -> dict[str, str] | None:
    """The exemplar that leads from a sample to its request's log lines (X-Request-ID). OpenMetrics
    allows 128 characters of exemplar labels; a longer id a client sent gets none. Under several
    workers prometheus-client drops exemplars (its multiprocess mode keeps none)."""
    return {"request_id": request_id} if len(request_id) <= MAX_EXEMPLAR_ID else None


@dataclass(frozen=True)
class DriftGauges:
    """The drift series: the same names for the API (its recent inputs) and for each batch."""

    feature: Gauge
    score: Gauge
    detected: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "DriftGauges":
        # Under several API workers each measures the requests it served; a sum of their PSI
        # would mean nothing, the worst of them is what an alert should see (livemax).
        return cls(
            feature=Gauge("churn_feature_drift_psi", "PSI of a feature of the scored inputs (the "
                          "API's recent window, or the latest batch) against its training profile; "
                          "0 until there are enough rows to judge.", ["feature"], registry=registry,
                          multiprocess_mode="livemax"),
            score=Gauge("churn_score_drift_psi", "PSI of the churn probabilities of the same inputs "
                        "against those of the test split at training.", registry=registry,
                        multiprocess_mode="livemax"),
            detected=Gauge("churn_data_drift_detected", "1 when a feature's PSI is at or over the "
                           "drift threshold, else 0.", registry=registry, multiprocess_mode="livemax"),
        )

    def record(self, drift: Drift, threshold: float) -> None:
        for name, value in drift.features.items():
            self.feature.labels(name).set(value)
        self.score.set(drift.score)
        self.detected.set(int(drift.detected(threshold)))


@dataclass(frozen=True)
class ApiMetrics:
    requests: Counter
    duration: Histogram
    errors: Counter
    active: Gauge
    predictions_loaded: Gauge
    predictions: Counter
    cache_hits: Counter
    cache_misses: Counter
    score: Histogram
    scoring_batch_size: Histogram
    scoring_duration: Histogram
    model_info: Gauge
    fault_injected: Gauge
    drift: "DriftGauges"
    # labels() costs a lock and a tuple per call; children of these bounded label sets are reused.
    _children: dict[tuple, tuple] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "ApiMetrics":
        # multiprocess_mode only matters under several workers: it says how their values combine.
        # A Counter is declared without its suffix: Counter("api_requests") is exposed on /metrics
        # as api_requests_total (and histograms as _bucket, _count and _sum), the names queried.
        return cls(
            requests=Counter("api_requests", "HTTP requests answered.",
                             ["method", "endpoint", "status_code"], registry=registry),
            duration=Histogram("api_request_duration_seconds",
                               "Time from receiving a request to finishing its response, in seconds.",
                               ["method", "endpoint"], buckets=LATENCY_BUCKETS, registry=registry),
            errors=Counter("api_errors", "HTTP responses with a status code of 400 or more.",
                           ["method", "endpoint", "status_code"], registry=registry),
            active=Gauge("api_active_requests", "HTTP requests being handled right now.",
                         registry=registry, multiprocess_mode="livesum"),
            predictions_loaded=Gauge("api_predictions_loaded",
                                     "Precomputed batch predictions held in memory.",
                                     registry=registry, multiprocess_mode="livemax"),
            predictions=Counter("model_predictions", "Churn predictions served to customers (not "
                                "to black-box probes), by where they came from (cache: batch "
                                "predictions, model: scored now) and risk level.",
                                ["source", "risk_level"], registry=registry),
            cache_hits=Counter("model_cache_hits",
                               "GET /churn/{id} answers found among the precomputed predictions.",
                               registry=registry),
            cache_misses=Counter("model_cache_misses",
                                 "GET /churn/{id} answers the model had to score live.",
                                 registry=registry),
            score=Histogram("model_prediction_score", "Churn probabilities served (0 to 1).",
                            buckets=SCORE_BUCKETS, registry=registry),
            scoring_batch_size=Histogram(
                "model_scoring_batch_size", "Customers scored by one call of the model: requests "
                "that arrive while it scores others are scored together by the next call.",
                buckets=SCORING_BATCH_BUCKETS, registry=registry),
            scoring_duration=Histogram(
                "model_scoring_duration_seconds", "Time of one call of the model, however many "
                "customers it scored, in seconds.", buckets=SCORING_SECONDS_BUCKETS, registry=registry),
            model_info=Gauge("model_info", "The model being served: 1 for its version and algorithm.",
                             ["version", "algorithm"], registry=registry, multiprocess_mode="livemax"),
            fault_injected=Gauge("api_fault_injected", "Demo fault switched on: the share of "
                                 "requests answered 500 (errors) or the seconds added (latency); "
                                 "0 when off.", ["kind"], registry=registry,
                                 multiprocess_mode="livemax"),
            drift=DriftGauges.create(registry),
        )

    def initialise(self, routes: list[tuple[str, str]]) -> None:
        """Creates the zero-valued series of every route and prediction label."""
        for method, endpoint in routes:
            self.requests.labels(method, endpoint, "200")
            self.errors.labels(method, endpoint, "500")
            self.duration.labels(method, endpoint)
        for source in SOURCES:
            for level in RISK_LEVELS:
                self.predictions.labels(source, level)
        for kind in FAULT_KINDS:
            self.fault_injected.labels(kind).set(0)

    def record_request(self, info: "Info") -> None:
        """The instrumentator's custom instrumentation: called once per finished request."""
        method = info.method if info.method in HTTP_METHODS else OTHER_METHOD
        key = (method, info.modified_handler, info.modified_status)
        children = self._children.get(key)
        if children is None:
            error = self.errors.labels(*key) if int(key[2]) >= 400 else None
            children = self._children[key] = (
                self.requests.labels(*key), self.duration.labels(*key[:2]), error)
        requests, duration, error = children
        requests.inc()
        duration.observe(info.modified_duration, exemplar_of(info.request.state.request_id))
        if error is not None:
            error.inc()

    def record_prediction(self, source: str, risk_level: str, probability: float,
                          request_id: str) -> None:
        key = (source, risk_level)
        counter = self._children.get(key)
        if counter is None:
            counter = self._children[key] = self.predictions.labels(*key)
        counter.inc(exemplar=exemplar_of(request_id))
        self.score.observe(probability)

    def observe_scoring(self, rows: int, seconds: float) -> None:
        self.scoring_batch_size.observe(rows)
        self.scoring_duration.observe(seconds)

    def serve_model(self, version: str, algorithm: str) -> None:
        """Makes `version` the only model_info series (several workers: the others drop to 0)."""
        for labels in [sample.labels for metric in self.model_info.collect()
                       for sample in metric.samples]:
            if labels["version"] != version:
                self.model_info.labels(**labels).set(0)
                self.model_info.remove(labels["version"], labels["algorithm"])
        self.model_info.labels(version, algorithm).set(1)



# --- Pushed by the jobs -------------------------------------------------------------------------
# Each job fills a fresh registry at the end of a successful run and pushes it once under its own
# job name, so one job's push never replaces another's group on the Pushgateway.
JOB_TRAINING = "churn-training"
JOB_BATCH = "churn-batch-prediction"
JOB_RETRAINING = "churn-retraining"


def _gauges(registry: CollectorRegistry, values: dict[str, tuple[str, float]]) -> None:
    for name, (help_text, value) in values.items():
        Gauge(name, help_text, registry=registry).set(value)


def training_registry(metadata: dict) -> CollectorRegistry:
    """The training job's gauges, from the metadata of the model it registered."""
    registry = CollectorRegistry()
    metrics = metadata["metrics"]
    _gauges(registry, {
        "model_f2_score": ("F2 of the latest trained model on its test split.", metrics["f2"]),
        "model_auc_score": ("ROC-AUC of the latest trained model on its test split.", metrics["roc_auc"]),
        "model_pr_auc_score": ("PR-AUC (average precision) on the test split.", metrics["pr_auc"]),
        "model_precision_score": ("Precision at the decision threshold, test split.", metrics["precision"]),
        "model_recall_score": ("Recall at the decision threshold, test split.", metrics["recall"]),
        "model_brier_score": ("Brier score of the latest trained model on its test split: the mean "
                              "squared gap between probability and outcome (lower is better).",
                              metrics["brier"]),
        "model_calibration_error": ("Expected calibration error on the test split: how far, on "
                                    "average, the churn probabilities are from the churn rates "
                                    "observed at those probabilities (0 is perfect).",
                                    metrics["calibration_error"]),
        "model_decision_threshold": ("Churn probability at or above which a customer is "
                                     "predicted to leave (tuned for F2).", metadata["threshold"]),
        "model_training_duration_seconds": ("Wall time of the training run, in seconds.",
                                            metadata["training_duration_seconds"]),
        "model_training_samples": ("Rows the model was fitted on (the training split).",
                                   metadata["rows"]["train"]),
        "model_training_last_success_timestamp_seconds": (
            "Unix time at which a training run last succeeded.", time.time()),
    })
    Gauge("model_version_info", "The model the training job registered: 1 for its version.",
          ["version", "algorithm"], registry=registry).labels(
        metadata["version"], metadata["algorithm"]).set(1)
    return registry


def batch_registry(rows: int, by_level: dict[str, int], average_score: float,
                   expected_churners: float, duration_seconds: float,
                   previous_high_risk: float | None = None) -> CollectorRegistry:
    """The batch-prediction job's gauges: how many customers, how risky, how long it took.

    `previous_high_risk` is the high-risk count of the batch before, so an alert can compare the
    two without guessing, from time offsets, when that batch ran.
    """
    registry = CollectorRegistry()
    if previous_high_risk is not None:
        Gauge("churn_predictions_high_risk_previous",
              "Customers at high churn risk in the batch before the latest.",
              registry=registry).set(previous_high_risk)
    _gauges(registry, {
        "churn_predictions_high_risk": ("Customers at high churn risk in the latest batch.",
                                        by_level.get("high", 0)),
        "churn_prediction_score_avg": ("Average churn probability of the latest batch.", average_score),
        "churn_expected_churners": ("Customers of the latest batch the model expects to leave: the "
                                    "sum of their calibrated churn probabilities.", expected_churners),
        "churn_batch_rows_scored": ("Customers scored by the latest batch.", rows),
        "churn_batch_duration_seconds": ("Wall time of the latest batch, in seconds.", duration_seconds),
        "churn_batch_last_success_timestamp_seconds": (
            "Unix time at which a batch prediction last succeeded.", time.time()),
    })
    by_level_gauge = Gauge("churn_predictions_by_level", "Customers of the latest batch per risk level.",
                           ["level"], registry=registry)
    for level in RISK_LEVELS:
        by_level_gauge.labels(level).set(by_level.get(level, 0))
    return registry


def retraining_registry(promoted: bool, challenger_f2: float, champion_f2: float) -> CollectorRegistry:
    """The retraining job's gauges: the decision and the two scores it was made on."""
    registry = CollectorRegistry()
    _gauges(registry, {
        "model_retraining_promoted": ("1 if the latest retraining promoted its challenger, else 0.",
                                      int(promoted)),
        "model_challenger_f2_score": ("F2 of the latest challenger on the held-out new rows.",
                                      challenger_f2),
        "model_champion_f2_score": ("F2 of the champion on the same held-out rows.", champion_f2),
        "model_retraining_last_success_timestamp_seconds": (
            "Unix time at which a retraining run last succeeded.", time.time()),
    })
    return registry


# Every catalogue series as Prometheus stores it, for exports: counters with _total, histograms
# as _count and _sum (their buckets are for quantiles, not reports).
CATALOGUE_SERIES = (
    "api_requests_total", "api_errors_total", "api_request_duration_seconds_count",
    "api_request_duration_seconds_sum", "api_active_requests", "api_predictions_loaded",
    "model_predictions_total", "model_cache_hits_total", "model_cache_misses_total",
    "model_prediction_score_count", "model_prediction_score_sum", "model_info",
    "model_scoring_batch_size_count", "model_scoring_batch_size_sum",
    "model_scoring_duration_seconds_count", "model_scoring_duration_seconds_sum",
    "churn_feature_drift_psi", "churn_score_drift_psi", "churn_data_drift_detected",
    "api_fault_injected", "model_f2_score", "model_auc_score", "model_pr_auc_score", "model_precision_score",
    "model_recall_score", "model_brier_score", "model_calibration_error",
    "model_decision_threshold", "model_training_duration_seconds",
    "model_training_samples", "model_version_info", "model_training_last_success_timestamp_seconds",
    "churn_predictions_high_risk", "churn_predictions_high_risk_previous", "churn_predictions_by_level",
    "churn_prediction_score_avg", "churn_expected_churners", "churn_batch_rows_scored",
    "churn_batch_duration_seconds",
    "churn_batch_last_success_timestamp_seconds",
    "model_retraining_promoted", "model_challenger_f2_score", "model_champion_f2_score",
    "model_retraining_last_success_timestamp_seconds",
)
