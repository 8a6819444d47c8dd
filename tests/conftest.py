"""Fixtures shared by every test layer: settings pointed at a temporary project, and data."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from churn.data.schema import NUMERIC_RULES, NumericRule
from churn.data.synthetic import generate
from churn.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
TRAINING_ROWS = 3000
# Port 9 (discard) refuses connections: jobs run by tests never push into a real Pushgateway.
NO_PUSHGATEWAY = "http://127.0.0.1:9"
NEW_CUSTOMERS_FIRST_ID = 18_000_000


def settings_for(root: Path, **overrides) -> Settings:
    """Settings whose every path lives under `root`, defaults otherwise."""
    return load_settings(
        data_path=root / "data" / "customers.csv",
        predictions_path=root / "data" / "predictions.csv",
        models_dir=root / "models",
        logs_dir=root / "logs",
        multiprocess_dir=root / "logs" / "prometheus-multiproc",
        **{"pushgateway_url": NO_PUSHGATEWAY} | overrides,
    )


def env_for(root: Path, **extra: str) -> dict[str, str]:
    """Environment for running a script as a user would, with its files under `root`."""
    return os.environ | {
        "CHURN_DATA_PATH": str(root / "data" / "customers.csv"),
        "CHURN_PREDICTIONS_PATH": str(root / "data" / "predictions.csv"),
        "CHURN_MODELS_DIR": str(root / "models"),
        "CHURN_LOGS_DIR": str(root / "logs"),
        "CHURN_MULTIPROCESS_DIR": str(root / "logs" / "prometheus-multiproc"),
        "CHURN_PUSHGATEWAY_URL": NO_PUSHGATEWAY,
    } | extra


def customer_bodies(frame: pd.DataFrame, settings: Settings | None = None) -> list[dict]:
    """POST /predict bodies of a frame's rows with every feature of `settings` (default: the
    configured ones), typed as the API wants: whole numbers and flags as int."""
    settings = settings or load_settings()
    types = {name: int if NUMERIC_RULES.get(name, NumericRule()).integer else float
             for name in settings.numeric_features}
    types |= dict.fromkeys(settings.categorical_features, str)
    return [{name: kind(row[name]) for name, kind in types.items()}
            for _, row in frame.dropna(subset=list(types)).iterrows()]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def customers_csv(settings: Settings) -> Path:
    settings.data_path.parent.mkdir(parents=True, exist_ok=True)
    generate(TRAINING_ROWS, seed=1).to_csv(settings.data_path, index=False)
    return settings.data_path


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A project with data and one trained model, built once; tests must not modify it."""
    from churn.model.training import train

    root = tmp_path_factory.mktemp("trained")
    trained = settings_for(root)
    trained.data_path.parent.mkdir(parents=True)
    generate(TRAINING_ROWS, seed=1).to_csv(trained.data_path, index=False)
    train(trained)
    return trained


@pytest.fixture(scope="session")
def scored_project(trained_project: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: a model, predictions for every customer, then 5 customers who joined since."""
    from churn.batch import predict_batch

    root = tmp_path_factory.mktemp("scored")
    shutil.copytree(trained_project.models_dir, root / "models")
    (root / "data").mkdir()
    shutil.copy(trained_project.data_path, root / "data" / "customers.csv")
    predict_batch(settings_for(root))
    joined = generate(5, seed=21, first_id=NEW_CUSTOMERS_FIRST_ID)
    joined.to_csv(root / "data" / "customers.csv", mode="a", header=False, index=False)
    return root
