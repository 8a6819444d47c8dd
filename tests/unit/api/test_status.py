"""Liveness, readiness and model information; start-up without a usable model."""

import json

import pytest
from fastapi.testclient import TestClient

from churn.api.app import create_app
from churn.errors import DataValidationError, ModelLoadError
from churn.model.registry import latest_version, read_metadata
from tests.helpers import settings_for


def test_health_answers_ok(client):
    answer = client.get("/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "exemplars": "on"}


def test_ready_names_model_and_predictions(client, predictions):
    body = client.get("/ready").json()
    assert body["status"] == "ready"
    assert body["predictions_loaded"] == len(predictions)
    assert body["model_version"] == predictions["model_version"].iloc[0]


def test_model_shows_metadata_but_no_paths(client, project):
    answer = client.get("/model")
    assert answer.status_code == 200
    body = answer.json()
    assert {"version", "trained_at", "algorithm", "threshold", "metrics", "metric_intervals",
            "calibration", "features"} == set(body)
    assert body["metrics"]["roc_auc"] > 0.7
    low, high = body["metric_intervals"]["roc_auc"]
    assert low < body["metrics"]["roc_auc"] < high
    table = body["calibration"]["reliability"]
    assert {"bin", "mean_score", "observed_rate", "count"} == set(table[0])
    models = project / "models"
    assert sum(row["count"] for row in table) == read_metadata(models, latest_version(models))[
        "rows"]["test"]
    assert body["features"]["categorical"] == ["Geography", "Gender"]
    assert str(project) not in answer.text and "sha256" not in answer.text


def test_missing_model_stops_start_up_with_the_reason(project, registry):
    (project / "models" / "latest").unlink()
    app = create_app(settings_for(project), registry)
    with pytest.raises(ModelLoadError, match="no trained model"), TestClient(app):
        pass


def test_missing_predictions_stop_start_up_with_the_reason(project, registry):
    (project / "data" / "predictions.csv").unlink()
    app = create_app(settings_for(project), registry)
    with pytest.raises(DataValidationError, match="predictions file not found"), TestClient(app):
        pass


def test_unready_start_says_why_on_ready_and_scoring_routes(project, make_client):
    (project / "models" / "latest").unlink()
    client = make_client(api_start_unready=True)
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert "no trained model" in ready.json()["reason"]
    churn = client.get("/churn/1")
    assert churn.status_code == 503 and "no trained model" in churn.json()["detail"]
    assert client.get("/health").status_code == 200


def test_corrupted_model_is_never_served(project, make_client):
    version = (project / "models" / "latest").read_text().strip()
    artifact = project / "models" / version / "model.joblib"
    artifact.write_bytes(artifact.read_bytes()[:-10])
    client = make_client(api_start_unready=True)
    reason = client.get("/ready").json()["reason"]
    assert "model.joblib" in reason and "corrupted or truncated" in reason
    assert str(project) not in reason  # the folder is for the log, not for the client


def test_openapi_documents_every_route(client):
    paths = json.loads(client.get("/openapi.json").text)["paths"]
    assert {"/churn/{customer_id}", "/predict", "/predict/batch", "/health", "/ready", "/model",
            "/metrics", "/admin/reload"} <= set(paths)
    assert client.get("/docs").status_code == 200
