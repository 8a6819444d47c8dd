"""Fixtures shared by every test layer: settings pointed at a temporary project, and data."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from churn.data.synthetic import generate
from churn.settings import Settings
from tests.helpers import NEW_CUSTOMERS_FIRST_ID, REPO, TRAINING_ROWS, env_for, settings_for


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


@pytest.fixture(scope="session")
def student_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only: what a student's first `make run` builds, with the Makefile's own commands (the
    default data: 10,000 customers, seed 42), so the ids and figures the tutorial shows are these."""
    root = tmp_path_factory.mktemp("student")
    env = env_for(root)
    for command in (["generate_data.py", "--rows", "10000", "--seed", "42"], ["train.py"],
                    ["predict_batch.py", "--no-push"]):
        subprocess.run([sys.executable, str(REPO / "scripts" / command[0]), *command[1:]], env=env,
                       check=True, capture_output=True, timeout=600)
    return root
