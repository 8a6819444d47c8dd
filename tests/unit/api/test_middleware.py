"""Request ids, one structured log line per request, crashes answered as JSON 500."""

import json

import pytest
from loguru import logger

from tests.helpers import NEW_CUSTOMERS_FIRST_ID
from tests.unit.api.conftest import complete_customer_id, customer_body


@pytest.fixture
def json_client(make_client):
    return make_client(log_json=True)


def api_log(project) -> list[dict]:
    logger.complete()
    return [json.loads(line) for line in (project / "logs" / "api.log").read_text().splitlines()]


def request_lines(project) -> list[dict]:
    return [record for record in api_log(project) if "route" in record]


def test_request_id_is_honoured_and_returned(json_client, project):
    answer = json_client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"
    json_client.get(f"/churn/{NEW_CUSTOMERS_FIRST_ID}", headers={"X-Request-ID": "trace-7"})
    (line,) = request_lines(project)
    assert line["request_id"] == "trace-7"


def test_request_id_is_generated_when_absent_or_unsafe(json_client):
    generated = json_client.get("/health").headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    unsafe = json_client.get("/health", headers={"X-Request-ID": "a b\nc"}).headers["x-request-id"]
    assert unsafe != "a b\nc" and len(unsafe) == 32


def test_one_line_per_request_with_route_status_duration_and_prediction(json_client, project,
                                                                         predictions):
    customer_id = int(predictions.index[3])
    json_client.get(f"/churn/{customer_id}")
    json_client.get("/churn/1")
    json_client.get("/health")
    json_client.get("/metrics")
    found, missing = request_lines(project)
    assert found["route"] == "/churn/{customer_id}" and found["status"] == 200
    assert found["method"] == "GET" and found["duration_ms"] > 0
    assert found["customer_id"] == customer_id
    assert found["risk_level"] == predictions.loc[customer_id, "risk_level"]
    assert missing["status"] == 404 and "risk_level" not in missing


def test_every_line_of_a_request_carries_its_id(json_client, project):
    json_client.get(f"/churn/{NEW_CUSTOMERS_FIRST_ID + 1}", headers={"X-Request-ID": "live-1"})
    tagged = [record for record in api_log(project) if record.get("request_id") == "live-1"]
    assert len(tagged) == 1 and tagged[0]["status"] == 200


def test_crash_in_a_handler_is_a_json_500_logged_and_counted(json_client, project, registry):
    def broken(customers):
        raise RuntimeError("scorer exploded")

    json_client.app.state.api.service.scorer.score = broken
    answer = json_client.get(f"/churn/{NEW_CUSTOMERS_FIRST_ID}", headers={"X-Request-ID": "boom"})
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal server error", "request_id": "boom"}
    assert "scorer exploded" not in answer.text and "Traceback" not in answer.text
    labels = {"method": "GET", "endpoint": "/churn/{customer_id}", "status_code": "500"}
    assert registry.get_sample_value("api_errors_total", labels) == 1
    errors = [record for record in api_log(project) if record["level"] == "ERROR"]
    assert errors[0]["request_id"] == "boom" and "scorer exploded" in errors[0]["exception"]


def test_a_crash_logs_its_traceback_without_request_values(make_client, project, customers):
    client = make_client()  # text lines: where loguru would print each frame's variables
    def broken(rows):
        raise RuntimeError("scorer exploded")

    client.app.state.api.service.scorer.score = broken
    body = customer_body(customers, complete_customer_id(customers)) | {"CreditScore": 777.25}
    assert client.post("/predict", json=body).status_code == 500
    logger.complete()
    log = (project / "logs" / "api.log").read_text()
    assert "Traceback" in log and "scorer exploded" in log
    assert "777.25" not in log and "'CreditScore'" not in log


def test_unknown_http_methods_share_one_label(client, registry):
    for method in ("FOO", "BAR", "PURGE"):
        assert client.request(method, "/health").status_code == 405
    assert registry.get_sample_value("api_requests_total", {
        "method": "other", "endpoint": "/health", "status_code": "405"}) == 3
    methods = {sample.labels["method"] for family in registry.collect()
               if family.name == "api_requests" for sample in family.samples}
    assert methods <= {"GET", "POST", "other"}


def test_logs_hold_no_surname_and_no_body(json_client, project, customers):
    body = customer_body(customers, complete_customer_id(customers))
    json_client.post("/predict", json=body)
    json_client.post("/predict", json=body | {"Surname": "Zebulonowski"})
    text = (project / "logs" / "api.log").read_text()
    assert "Zebulonowski" not in text
    assert "EstimatedSalary" not in text and str(body["EstimatedSalary"]) not in text


def test_head_is_answered_wherever_get_is_and_counted_as_head(client, registry, project):
    get, head = client.get("/churn/123"), client.head("/churn/123")
    assert head.status_code == get.status_code == 404
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert client.head("/health").status_code == 200
    assert client.head("/predict").status_code == 405  # POST only: HEAD is not GET there
    assert registry.get_sample_value("api_requests_total", {
        "method": "HEAD", "endpoint": "/churn/{customer_id}", "status_code": "404"}) == 1
    logger.complete()
    assert "HEAD /churn/{customer_id} 404" in (project / "logs" / "api.log").read_text()
