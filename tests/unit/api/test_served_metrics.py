"""The API's metrics: catalogue names and types, zeros from start-up, exact counts, bounded labels."""

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from churn.api.app import create_app
from churn.metrics import LATENCY_BUCKETS
from tests.helpers import settings_for

# DESIGN.md's catalogue of what the API serves (drift gauges arrive with drift detection).
CATALOGUE = {
    "api_requests": ("counter", {"method", "endpoint", "status_code"}),
    "api_request_duration_seconds": ("histogram", {"method", "endpoint"}),
    "api_errors": ("counter", {"method", "endpoint", "status_code"}),
    "api_active_requests": ("gauge", set()),
    "api_predictions_loaded": ("gauge", set()),
    "model_predictions": ("counter", {"source", "risk_level"}),
    "model_cache_hits": ("counter", set()),
    "model_cache_misses": ("counter", set()),
    "model_prediction_score": ("histogram", set()),
    "model_info": ("gauge", {"version", "algorithm"}),
}
CHURN = "/churn/{customer_id}"


def families(client: TestClient) -> dict:
    return {family.name: family for family in text_string_to_metric_families(client.get("/metrics").text)}


def test_metrics_endpoint_serves_the_catalogue(client):
    served = families(client)
    for name, (kind, labels) in CATALOGUE.items():
        assert name in served, name
        assert served[name].type == kind, name
        sample_labels = {key for sample in served[name].samples for key in sample.labels} - {"le"}
        assert sample_labels == labels, name
    assert not [name for name in served if name.startswith("http_")]


def test_latency_buckets_are_the_agreed_thresholds(client):
    buckets = {sample.labels["le"] for sample in families(client)["api_request_duration_seconds"].samples
               if sample.name.endswith("_bucket")}
    assert buckets == {f"{float(bound)}" for bound in LATENCY_BUCKETS} | {"+Inf"}


def test_series_exist_with_zeros_before_any_traffic(client, registry):
    for route in (("GET", CHURN), ("POST", "/predict"), ("POST", "/predict/batch")):
        labels = {"method": route[0], "endpoint": route[1]}
        assert registry.get_sample_value("api_requests_total", labels | {"status_code": "200"}) == 0
        assert registry.get_sample_value("api_errors_total", labels | {"status_code": "500"}) == 0
        assert registry.get_sample_value("api_request_duration_seconds_count", labels) == 0
    for source in ("cache", "model"):
        for level in ("low", "medium", "high"):
            assert registry.get_sample_value(
                "model_predictions_total", {"source": source, "risk_level": level}) == 0
    assert registry.get_sample_value("model_cache_hits_total") == 0
    assert registry.get_sample_value("api_predictions_loaded") > 0
    version = client.get("/model").json()["version"]
    assert registry.get_sample_value(
        "model_info", {"version": version, "algorithm": "hist_gradient_boosting"}) == 1


def test_exact_counts_after_known_traffic(client, registry, predictions):
    ids = [int(customer_id) for customer_id in predictions.index[:7]]
    for customer_id in ids:
        client.get(f"/churn/{customer_id}")
    for _ in range(3):
        client.get("/churn/42")
    for _ in range(5):
        client.get("/metrics")
    ok = {"method": "GET", "endpoint": CHURN, "status_code": "200"}
    missing = ok | {"status_code": "404"}
    assert registry.get_sample_value("api_requests_total", ok) == 7
    assert registry.get_sample_value("api_requests_total", missing) == 3
    assert registry.get_sample_value("api_errors_total", missing) == 3
    assert registry.get_sample_value("api_errors_total", ok) is None
    assert registry.get_sample_value(
        "api_request_duration_seconds_count", {"method": "GET", "endpoint": CHURN}) == 10
    levels = predictions.loc[ids, "risk_level"].value_counts()
    for level in ("low", "medium", "high"):
        assert registry.get_sample_value(
            "model_predictions_total", {"source": "cache", "risk_level": level}) == levels.get(level, 0)
    assert registry.get_sample_value("model_prediction_score_count") == 7
    assert registry.get_sample_value(
        "model_prediction_score_sum") == sum(predictions.loc[ids, "churn_probability"])
    # /metrics itself is neither counted nor in flight.
    assert registry.get_sample_value(
        "api_requests_total", {"method": "GET", "endpoint": "/metrics", "status_code": "200"}) is None
    assert registry.get_sample_value("api_active_requests") == 0


def test_a_scanner_cannot_create_series(client, registry):
    for number in range(40):
        client.get(f"/wp-admin/{number}.php")
        client.post(f"/random/{number}")
    endpoints = {sample.labels["endpoint"] for family in registry.collect()
                 if family.name == "api_requests" for sample in family.samples}
    assert "none" in endpoints
    assert not [endpoint for endpoint in endpoints if "wp-admin" in endpoint or "random" in endpoint]
    assert registry.get_sample_value(
        "api_requests_total", {"method": "GET", "endpoint": "none", "status_code": "404"}) == 40


def test_two_apps_in_one_process_keep_separate_series(project, predictions):
    first_registry, second_registry = CollectorRegistry(), CollectorRegistry()
    with TestClient(create_app(settings_for(project), first_registry)) as first, \
            TestClient(create_app(settings_for(project), second_registry)) as second:
        first.get(f"/churn/{int(predictions.index[0])}")
        first.get(f"/churn/{int(predictions.index[1])}")
        second.get(f"/churn/{int(predictions.index[0])}")
    assert first_registry.get_sample_value("model_cache_hits_total") == 2
    assert second_registry.get_sample_value("model_cache_hits_total") == 1


OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def test_prometheus_gets_openmetrics_with_the_request_id_as_exemplar(client, predictions):
    customer_id = int(predictions.index[0])
    client.get(f"/churn/{customer_id}", headers={"X-Request-ID": "trace-me-42"})
    answer = client.get("/metrics", headers=OPENMETRICS)
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    lines = answer.text.splitlines()
    exemplar = '# {request_id="trace-me-42"}'
    assert any(line.startswith('api_request_duration_seconds_bucket{endpoint="/churn/{customer_id}"')
               and exemplar in line for line in lines)
    assert any(line.startswith("model_predictions_total{") and exemplar in line for line in lines)
    assert not [line for line in lines if "_created" in line]
    assert lines[-1] == "# EOF"


def test_curl_gets_plain_text_without_exemplars(client, predictions):
    client.get(f"/churn/{int(predictions.index[0])}", headers={"X-Request-ID": "trace-me-43"})
    answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    assert "trace-me-43" not in answer.text and "# EOF" not in answer.text
    assert "api_requests_total{" in answer.text


def test_an_id_too_long_for_an_exemplar_is_served_without_one(client, predictions):
    long_id = "x" * 128  # a safe request id, over OpenMetrics' 128 characters with its label name
    answer = client.get(f"/churn/{int(predictions.index[0])}", headers={"X-Request-ID": long_id})
    assert answer.status_code == 200 and answer.headers["x-request-id"] == long_id
    assert long_id not in client.get("/metrics", headers=OPENMETRICS).text
