"""GET /churn/{id}, POST /predict and POST /predict/batch: answers, errors and their metrics."""

import pytest

from tests.helpers import NEW_CUSTOMERS_FIRST_ID
from tests.unit.api.conftest import complete_customer_id, customer_body

CHURN = "/churn/{customer_id}"


def requests_total(registry, method, endpoint, status):
    return registry.get_sample_value(
        "api_requests_total", {"method": method, "endpoint": endpoint, "status_code": status})


def predictions_total(registry, source, level):
    return registry.get_sample_value("model_predictions_total",
                                     {"source": source, "risk_level": level})


def test_known_customer_is_answered_from_the_batch_predictions(client, registry, predictions):
    customer_id = int(predictions.index[0])
    expected = predictions.loc[customer_id]
    answer = client.get(f"/churn/{customer_id}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["customer_id"] == customer_id and body["source"] == "cache"
    assert body["churn_probability"] == pytest.approx(expected["churn_probability"])
    assert body["risk_level"] == expected["risk_level"]
    assert body["model_version"] == expected["model_version"]
    assert set(body) == {"customer_id", "churn_probability", "risk_level", "churn_predicted",
                         "model_version", "source"}
    assert registry.get_sample_value("model_cache_hits_total") == 1
    assert registry.get_sample_value("model_cache_misses_total") == 0
    assert predictions_total(registry, "cache", expected["risk_level"]) == 1
    assert registry.get_sample_value("model_prediction_score_count") == 1


def test_customer_without_a_batch_score_is_scored_once_then_remembered(client, registry):
    first = client.get(f"/churn/{NEW_CUSTOMERS_FIRST_ID + 2}").json()
    second = client.get(f"/churn/{NEW_CUSTOMERS_FIRST_ID + 2}").json()
    assert first["source"] == "model" and second["source"] == "cache"
    assert first["churn_probability"] == second["churn_probability"]
    assert registry.get_sample_value("model_cache_misses_total") == 1
    assert registry.get_sample_value("model_cache_hits_total") == 1
    assert predictions_total(registry, "model", first["risk_level"]) == 1


@pytest.mark.parametrize("path", ["/churn/{cached}", "/churn/{uncached}", "/predict"])
def test_a_probe_counts_as_a_request_but_not_as_a_customers_prediction(
        client, registry, predictions, customers, path):
    """The blackbox exporter's probes (X-Churn-Probe) are HTTP requests like any other, but the
    model_* series describe what customers were told."""
    probe = {"X-Churn-Probe": "blackbox"}
    url = path.format(cached=int(predictions.index[0]), uncached=NEW_CUSTOMERS_FIRST_ID + 3)
    if path == "/predict":
        answer = client.post(url, json=customer_body(customers, complete_customer_id(customers)),
                             headers=probe)
    else:
        answer = client.get(url, headers=probe)
    assert answer.status_code == 200 and 0 <= answer.json()["churn_probability"] <= 1
    endpoint = "/predict" if path == "/predict" else CHURN
    assert requests_total(registry, "POST" if path == "/predict" else "GET", endpoint, "200") == 1
    assert registry.get_sample_value("model_prediction_score_count") == 0
    assert sum(registry.get_sample_value("model_predictions_total", {"source": source, "risk_level": level})
               for source in ("cache", "model") for level in ("low", "medium", "high")) == 0
    assert registry.get_sample_value("model_cache_hits_total") == 0
    assert registry.get_sample_value("model_cache_misses_total") == 0


def test_unknown_customer_is_404_with_a_json_reason(client, registry):
    answer = client.get("/churn/123")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "customer 123 not found"}
    labels = {"method": "GET", "endpoint": CHURN, "status_code": "404"}
    assert registry.get_sample_value("api_errors_total", labels) == 1


@pytest.mark.parametrize("customer_id", [
    "abc", "1.5", "0", "-7", str(2**60), "+123", "0123", "123.0", "1_23", " 123", "1e3",
    "\uff11\uff12\uff13", "\u0661\u0662\u0663"])  # full-width and Arabic-Indic digits: int() takes them
def test_bad_customer_id_is_422_naming_the_field(client, customer_id):
    """One spelling per customer, as in the data: plain digits, so one customer has one URL."""
    answer = client.get(f"/churn/{customer_id}")
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["field"] == "customer_id"
    assert customer_id.strip() not in answer.text


def test_predict_scores_like_the_batch_job(client, registry, customers, predictions):
    customer_id = complete_customer_id(customers)
    answer = client.post("/predict", json=customer_body(customers, customer_id))
    assert answer.status_code == 200
    body = answer.json()
    assert body["churn_probability"] == pytest.approx(
        predictions.loc[customer_id, "churn_probability"], abs=1e-6)
    assert set(body) == {"churn_probability", "risk_level", "churn_predicted", "model_version"}
    assert predictions_total(registry, "model", body["risk_level"]) == 1
    assert requests_total(registry, "POST", "/predict", "200") == 1


def test_predict_scores_a_country_the_model_never_saw(client, customers):
    body = customer_body(customers, complete_customer_id(customers)) | {"Geography": "Portugal"}
    answer = client.post("/predict", json=body)
    assert answer.status_code == 200
    assert 0 <= answer.json()["churn_probability"] <= 1


@pytest.mark.parametrize(("change", "field"), [
    ({"Surname": "Smith"}, "Surname"),
    ({"CustomerId": 5}, "CustomerId"),
    ({"Gender": "Robot"}, "Gender"),
    ({"Age": -1}, "Age"),
    ({"CreditScore": 1000}, "CreditScore"),
    ({"HasCrCard": 2}, "HasCrCard"),
    ({"NumOfProducts": 1.5}, "NumOfProducts"),
    ({"Geography": ""}, "Geography"),
    ({"Geography": "x" * 65}, "Geography"),
    ({"Balance": "lots"}, "Balance"),
])
def test_predict_refuses_bad_bodies_naming_the_field(client, customers, registry, change, field):
    body = customer_body(customers, complete_customer_id(customers)) | change
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert field in answer.json()["detail"]
    # Nothing was scored, and the value sent is not echoed back.
    assert registry.get_sample_value("model_prediction_score_count") == 0
    assert "Smith" not in answer.text


def test_predict_refuses_a_missing_field(client, customers):
    body = customer_body(customers, complete_customer_id(customers))
    del body["Age"]
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "Age"


def test_batch_scores_every_customer_in_order(client, customers, predictions, registry):
    ids = [int(customer_id) for customer_id in customers.dropna().index[:3]]
    answer = client.post("/predict/batch",
                         json={"customers": [customer_body(customers, i) for i in ids]})
    assert answer.status_code == 200
    scores = [item["churn_probability"] for item in answer.json()["predictions"]]
    assert scores == pytest.approx(predictions.loc[ids, "churn_probability"].tolist(), abs=1e-6)
    assert registry.get_sample_value("model_prediction_score_count") == 3


def test_batch_error_names_the_customer_and_field(client, customers):
    ids = customers.dropna().index[:3]
    bodies = [customer_body(customers, i) for i in ids]
    bodies[1]["Age"] = 7
    answer = client.post("/predict/batch", json={"customers": bodies})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "customers[1].Age"


def test_batch_over_the_configured_size_is_413(make_client, customers, registry):
    client = make_client(api_max_batch=2)
    body = customer_body(customers, complete_customer_id(customers))
    answer = client.post("/predict/batch", json={"customers": [body] * 3})
    assert answer.status_code == 413
    assert answer.json()["detail"] == "at most 2 customers per call, got 3; split the batch"
    assert registry.get_sample_value("model_prediction_score_count") == 0


def test_chunked_body_over_the_byte_limit_is_413_as_it_arrives(make_client, registry):
    client = make_client(api_max_body_bytes=2048)

    def chunks():  # no Content-Length: the body arrives in pieces
        for _ in range(50):
            yield b" " * 1024

    answer = client.post("/predict/batch", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "over the limit of 2048 bytes" in answer.json()["detail"]
    assert requests_total(registry, "POST", "/predict/batch", "413") == 1


def test_empty_batch_is_422(client):
    assert client.post("/predict/batch", json={"customers": []}).status_code == 422


def test_body_over_the_byte_limit_is_413_before_parsing(make_client, registry):
    client = make_client(api_max_body_bytes=2048)
    answer = client.post("/predict/batch", content=b"x" * 5000,
                         headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "over the limit of 2048" in answer.json()["detail"]
    assert len(answer.headers.get_list("x-request-id")) == 1
    assert requests_total(registry, "POST", "/predict/batch", "413") == 1
