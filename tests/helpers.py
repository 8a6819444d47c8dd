"""Helpers every test layer shares: paths, settings and environments pointed at a temporary
project, and request bodies. Fixtures live in conftest.py; tests import these from here."""

import os
from pathlib import Path

import pandas as pd

from churn.loadtest.traffic import predict_bodies
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
        # Log lines written at once, so that a test reads what it has just logged.
        **{"pushgateway_url": NO_PUSHGATEWAY, "log_flush_seconds": 0} | overrides,
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
    return predict_bodies(frame, {"numeric": settings.numeric_features,
                                  "categorical": settings.categorical_features})
