"""Live drift in the API: the window, GET /drift, the gauges, and sampled inputs."""

import json

import pandas as pd

from churn.data.synthetic import generate
from tests.helpers import customer_bodies as bodies

# Big enough that sampling noise stays far below the 0.25 threshold (about 0.05 at 300 rows).
WINDOW = {"drift_window_size": 300, "drift_min_rows": 150}


def send(client, frame: pd.DataFrame) -> None:
    answer = client.post("/predict/batch", json={"customers": bodies(frame)})
    assert answer.status_code == 200, answer.text


def test_drifted_inputs_raise_the_flag_and_normal_ones_lower_it(make_client, registry):
    client = make_client(**WINDOW)
    send(client, generate(200, seed=31, drift=True))
    report = client.get("/drift").json()
    assert report["window_rows"] >= 150 and report["drift_detected"] is True
    assert "Age" in report["features_over_threshold"]
    assert registry.get_sample_value("churn_data_drift_detected") == 1
    assert registry.get_sample_value("churn_feature_drift_psi", {"feature": "Age"}) > 0.25
    assert registry.get_sample_value("churn_score_drift_psi") == report["score_psi"]

    send(client, generate(320, seed=32))  # a whole window of the training population
    report = client.get("/drift").json()
    assert report["window_rows"] == 300 and report["drift_detected"] is False
    assert max(report["feature_psi"].values()) < 0.15
    assert registry.get_sample_value("churn_data_drift_detected") == 0


def test_too_few_rows_are_not_judged(make_client, registry):
    client = make_client(**WINDOW)
    send(client, generate(120, seed=33, drift=True))
    report = client.get("/drift").json()
    assert report["window_rows"] < 150 and report["drift_detected"] is False
    assert report["feature_psi"]["Age"] > 0.25  # measured, but not yet trusted
    assert registry.get_sample_value("churn_data_drift_detected") == 0


def test_drift_series_exist_from_start_up(make_client, registry):
    make_client(**WINDOW)
    assert registry.get_sample_value("churn_data_drift_detected") == 0
    for feature in ("Age", "Geography", "CreditScore"):
        assert registry.get_sample_value("churn_feature_drift_psi", {"feature": feature}) == 0


def test_single_predictions_feed_the_window(make_client):
    client = make_client(**WINDOW)
    for body in bodies(generate(5, seed=34)):
        assert client.post("/predict", json=body).status_code == 200
    assert client.get("/drift").json()["window_rows"] == 5


def test_sampled_inputs_go_to_a_jsonl_file_without_surname(make_client, project):
    client = make_client(log_input_samples=1.0, **WINDOW)
    send(client, generate(10, seed=35))
    lines = [json.loads(line) for line in
             (project / "logs" / "input_samples.jsonl").read_text().splitlines()]
    assert len(lines) == 10
    assert {"Age", "Geography", "churn_probability", "time"} <= set(lines[0])
    assert "Surname" not in lines[0]
