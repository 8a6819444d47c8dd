"""Fixtures shared by every test layer: settings pointed at a temporary project, and data."""

import os
from pathlib import Path

import pytest

from churn.data.synthetic import generate
from churn.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
TRAINING_ROWS = 3000


def settings_for(root: Path, **overrides) -> Settings:
    """Settings whose every path lives under `root`, defaults otherwise."""
    return load_settings(
        data_path=root / "data" / "customers.csv",
        predictions_path=root / "data" / "predictions.csv",
        models_dir=root / "models",
        logs_dir=root / "logs",
        **overrides,
    )


def env_for(root: Path, **extra: str) -> dict[str, str]:
    """Environment for running a script as a user would, with its files under `root`."""
    return os.environ | {
        "CHURN_DATA_PATH": str(root / "data" / "customers.csv"),
        "CHURN_PREDICTIONS_PATH": str(root / "data" / "predictions.csv"),
        "CHURN_MODELS_DIR": str(root / "models"),
        "CHURN_LOGS_DIR": str(root / "logs"),
    } | extra


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
