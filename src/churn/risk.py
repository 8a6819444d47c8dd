"""Risk levels of a churn probability, shared by the API, the batch job and the dashboards:
low < risk_medium_threshold <= medium < risk_high_threshold <= high (configurable)."""

import numpy as np

from churn.settings import Settings

RISK_LEVELS = ("low", "medium", "high")


def risk_level(probability: float, settings: Settings) -> str:
    if probability >= settings.risk_high_threshold:
        return "high"
    if probability >= settings.risk_medium_threshold:
        return "medium"
    return "low"


def risk_level_codes(probabilities: np.ndarray, settings: Settings) -> np.ndarray:
    """Vectorised risk_level, as positions in RISK_LEVELS (0 low, 1 medium, 2 high): small
    numbers, so a batch of millions is counted and written without a string per customer."""
    return ((probabilities >= settings.risk_medium_threshold).astype(np.int8)
            + (probabilities >= settings.risk_high_threshold))
