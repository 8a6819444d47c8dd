"""The API serves the features a model was trained on, whatever the settings list (issue 13),
and spells categories as the batch job does."""

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from churn.api.app import create_app
from churn.batch import predict_batch
from churn.data.synthetic import generate
from churn.model.registry import METADATA, latest_version
from churn.model.training import train
from churn.settings import Settings
from tests.helpers import TRAINING_ROWS, customer_bodies, settings_for
from tests.unit.api.conftest import TOKEN, complete_customer_id, customer_body

# Without Tenure, HasCrCard and Gender.
NUMERIC = ["CreditScore", "Age", "Balance", "NumOfProducts", "IsActiveMember", "EstimatedSalary"]
CATEGORICAL = ["Geography"]


@pytest.fixture(scope="module")
def narrow_project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Read-only: data, a model trained on NUMERIC + CATEGORICAL, and its batch predictions."""
    settings = settings_for(tmp_path_factory.mktemp("narrow"), numeric_features=NUMERIC,
                            categorical_features=CATEGORICAL)
    settings.data_path.parent.mkdir(parents=True)
    generate(TRAINING_ROWS, seed=1).to_csv(settings.data_path, index=False)
    train(settings)
    predict_batch(settings)
    return settings


@pytest.fixture
def narrow_client(narrow_project: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(narrow_project, CollectorRegistry())) as client:
        yield client


@pytest.fixture
def narrow_customers(narrow_project: Settings) -> pd.DataFrame:
    """Customers with every served feature present, indexed by id."""
    customers = pd.read_csv(narrow_project.data_path).set_index("CustomerId")
    return customers.dropna(subset=narrow_project.features)


def test_predict_and_batch_score_with_the_served_features(narrow_project, narrow_client,
                                                          narrow_customers):
    rows = narrow_customers.head(3)
    bodies = customer_bodies(rows, narrow_project)
    assert set(bodies[0]) == {*NUMERIC, *CATEGORICAL}
    expected = pd.read_csv(narrow_project.predictions_path).set_index("CustomerId").loc[
        rows.index, "churn_probability"].tolist()

    single = narrow_client.post("/predict", json=bodies[0])
    assert single.status_code == 200, single.text
    assert single.json()["churn_probability"] == pytest.approx(expected[0], abs=1e-6)
    batch = narrow_client.post("/predict/batch", json={"customers": bodies})
    assert batch.status_code == 200, batch.text
    scores = [item["churn_probability"] for item in batch.json()["predictions"]]
    assert scores == pytest.approx(expected, abs=1e-6)


def test_batch_prediction_scores_every_customer_with_the_served_features(narrow_project):
    predictions = pd.read_csv(narrow_project.predictions_path)
    customers = pd.read_csv(narrow_project.data_path)
    assert predictions["CustomerId"].tolist() == customers["CustomerId"].tolist()
    assert predictions["churn_probability"].between(0, 1).all()


@pytest.mark.parametrize("missing", ["Age", "Geography"])
def test_missing_served_feature_is_422_naming_it(narrow_project, narrow_client, narrow_customers,
                                                 missing):
    (body,) = customer_bodies(narrow_customers.head(1), narrow_project)
    del body[missing]
    answer = narrow_client.post("/predict", json=body)
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [missing]


@pytest.mark.parametrize(("extra", "value"), [("Gender", "Female"), ("Tenure", 3), ("Surname", "Smith")])
def test_unserved_feature_is_422_naming_it(narrow_project, narrow_client, narrow_customers, extra,
                                           value):
    (body,) = customer_bodies(narrow_customers.head(1), narrow_project)
    answer = narrow_client.post("/predict/batch", json={"customers": [body | {extra: value}]})
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [f"customers[0].{extra}"]


def test_openapi_documents_exactly_the_served_features(narrow_client):
    schemas = narrow_client.get("/openapi.json").json()["components"]["schemas"]
    customer = schemas["Customer"]
    assert set(customer["properties"]) == set(customer["required"]) == {*NUMERIC, *CATEGORICAL}
    assert customer["additionalProperties"] is False
    (example,) = customer["examples"]
    assert narrow_client.post("/predict", json=example).status_code == 200
    assert narrow_client.post("/predict/batch", json={"customers": [example]}).status_code == 200


def test_openapi_of_an_unready_start_still_renders(project, make_client):
    (project / "models" / "latest").unlink()
    client = make_client(api_start_unready=True)
    assert client.get("/openapi.json").json()["components"]["schemas"]["Customer"]["type"] == "object"
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("spelling", [" France ", "france", "FRANCE"])
def test_category_spelling_does_not_change_the_score(client, customers, spelling):
    body = customer_body(customers, complete_customer_id(customers)) | {"Geography": "France"}
    expected = client.post("/predict", json=body).json()["churn_probability"]
    answer = client.post("/predict", json=body | {"Geography": spelling})
    assert answer.status_code == 200
    assert answer.json()["churn_probability"] == expected


def test_unknown_gender_is_422_listing_the_trained_ones(client, customers, registry):
    body = customer_body(customers, complete_customer_id(customers))
    assert client.post("/predict", json=body | {"Gender": " female "}).status_code == 200
    answer = client.post("/predict", json=body | {"Gender": "X"})
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["field"] == "Gender"
    assert "'Female'" in error["message"] and "'Male'" in error["message"]


@pytest.mark.parametrize("number", ["1e309", "-1e309", "Infinity", "NaN"])
@pytest.mark.parametrize("field", ["Age", "Balance"])
def test_non_finite_number_is_422_naming_the_field(client, customers, registry, number, field):
    body = customer_body(customers, complete_customer_id(customers)) | {field: 0}
    text = json.dumps(body).replace(f'"{field}": 0', f'"{field}": {number}')
    answer = client.post("/predict", content=text, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert registry.get_sample_value("model_prediction_score_count") == 0


def _edit_profile(project: Path, feature: str, categories: list[str] | None) -> None:
    """Rewrites the training categories of `feature` in the latest model's metadata."""
    path = project / "models" / latest_version(project / "models") / METADATA
    metadata = json.loads(path.read_text())
    profile = metadata["reference_profile"]["features"][feature]
    if categories is None:
        del profile["categories"]
    else:
        profile["categories"] = categories
    path.write_text(json.dumps(metadata))


def test_model_without_training_categories_is_refused_at_start_in_one_line(project, make_client):
    _edit_profile(project, "Geography", None)
    client = make_client(api_start_unready=True)
    reason = client.get("/ready").json()["reason"]
    assert "no training categories of Geography" in reason and "\n" not in reason


def test_model_without_training_categories_is_refused_on_reload(client, project):
    _edit_profile(project, "Gender", [])
    answer = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 409 and "no training categories of Gender" in answer.json()["detail"]
    assert client.get("/ready").json()["status"] == "ready"


def test_reload_validates_with_the_new_model_categories(client, project, customers):
    body = customer_body(customers, complete_customer_id(customers)) | {"Gender": "Other"}
    assert client.post("/predict", json=body).status_code == 422
    _edit_profile(project, "Gender", ["Male", "Female", "Other"])
    reload = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reload.status_code == 200
    assert client.post("/predict", json=body).status_code == 200
    gender = client.get("/openapi.json").json()["components"]["schemas"]["Customer"]["properties"]["Gender"]
    assert gender["enum"] == ["Male", "Female", "Other"]
