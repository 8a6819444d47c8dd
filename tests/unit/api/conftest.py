"""An app over a private copy of the scored project (see tests/conftest.py), with its own registry."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from churn.api.app import create_app
from tests.helpers import customer_bodies, settings_for

TOKEN = "test-admin-token"


@pytest.fixture
def project(scored_project: Path, tmp_path: Path) -> Path:
    """A private copy, free to change."""
    shutil.copytree(scored_project, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def make_client(project: Path, registry: CollectorRegistry) -> Iterator:
    """Builds a started app over `project` with the given setting overrides."""
    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(settings_for(project, **overrides), registry))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client(admin_token=TOKEN)


@pytest.fixture
def predictions(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / "data" / "predictions.csv").set_index("CustomerId")


@pytest.fixture
def customers(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / "data" / "customers.csv").set_index("CustomerId")


def customer_body(customers: pd.DataFrame, customer_id: int) -> dict:
    """The /predict body of a complete customer of the file (its features, nothing else)."""
    (body,) = customer_bodies(customers.loc[[customer_id]])
    return body


def complete_customer_id(customers: pd.DataFrame) -> int:
    """A customer without missing values, so the body can carry every feature."""
    return int(customers.dropna().index[0])
