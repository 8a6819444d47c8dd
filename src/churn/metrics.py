"""The API's metrics of the DESIGN.md catalogue, declared once and bound to a registry the caller owns.

Every labelled series a dashboard or an alert reads is created at start-up with a zero, so a
fresh service shows flat lines instead of "No data" and absent() only fires when it should.
"""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_fastapi_instrumentator.metrics import Info

# Every latency threshold a rule, SLO or panel uses must be one of these (2 s: the course's alert).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5)
# Tenths, so the risk thresholds (0.5, 0.7) are bucket boundaries.
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SOURCES = ("cache", "model")
RISK_LEVELS = ("low", "medium", "high")


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
    model_info: Gauge
    # labels() costs a lock and a tuple per call; children of these bounded label sets are reused.
    _children: dict[tuple, tuple] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "ApiMetrics":
        # multiprocess_mode only matters under several workers: it says how their values combine.
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
            predictions=Counter("model_predictions", "Churn predictions served, by where they came "
                                "from (cache: batch predictions, model: scored now) and risk level.",
                                ["source", "risk_level"], registry=registry),
            cache_hits=Counter("model_cache_hits",
                               "GET /churn/{id} answers found among the precomputed predictions.",
                               registry=registry),
            cache_misses=Counter("model_cache_misses",
                                 "GET /churn/{id} answers the model had to score live.",
                                 registry=registry),
            score=Histogram("model_prediction_score", "Churn probabilities served (0 to 1).",
                            buckets=SCORE_BUCKETS, registry=registry),
            model_info=Gauge("model_info", "The model being served: 1 for its version and algorithm.",
                             ["version", "algorithm"], registry=registry, multiprocess_mode="livemax"),
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

    def record_request(self, info: Info) -> None:
        """The instrumentator's custom instrumentation: called once per finished request."""
        key = (info.method, info.modified_handler, info.modified_status)
        children = self._children.get(key)
        if children is None:
            error = self.errors.labels(*key) if int(key[2]) >= 400 else None
            children = self._children[key] = (
                self.requests.labels(*key), self.duration.labels(*key[:2]), error)
        requests, duration, error = children
        requests.inc()
        duration.observe(info.modified_duration)
        if error is not None:
            error.inc()

    def record_prediction(self, source: str, risk_level: str, probability: float) -> None:
        key = (source, risk_level)
        counter = self._children.get(key)
        if counter is None:
            counter = self._children[key] = self.predictions.labels(*key)
        counter.inc()
        self.score.observe(probability)

    def serve_model(self, version: str, algorithm: str) -> None:
        """Makes `version` the only model_info series (several workers: the others drop to 0)."""
        for labels in [sample.labels for metric in self.model_info.collect()
                       for sample in metric.samples]:
            if labels["version"] != version:
                self.model_info.labels(**labels).set(0)
                self.model_info.remove(labels["version"], labels["algorithm"])
        self.model_info.labels(version, algorithm).set(1)

