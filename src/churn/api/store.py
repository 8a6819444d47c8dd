"""Precomputed churn probabilities by customer id, and customers still waiting for a score.

Predictions sit in two sorted numpy arrays (16 bytes a customer) and are found by binary search,
so a million of them load in well under a second and cost a few megabytes, not a dict's hundreds.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Stored:
    probability: float
    model_version: str


@dataclass
class PredictionStore:
    ids: np.ndarray
    probabilities: np.ndarray
    model_version: str
    # Customers of the customers file without a precomputed score: id -> features.
    unscored: dict[int, dict] = field(default_factory=dict)
    # Scores computed live since start-up, kept so a customer is scored once.
    remembered: dict[int, Stored] = field(default_factory=dict)

    def __len__(self) -> int:
        """Precomputed predictions only: what api_predictions_loaded reports."""
        return len(self.ids)

    def get(self, customer_id: int) -> Stored | None:
        position = int(self.ids.searchsorted(customer_id))
        if position < len(self.ids) and self.ids[position] == customer_id:
            return Stored(float(self.probabilities[position]), self.model_version)
        return self.remembered.get(customer_id)

    def features_of(self, customer_id: int) -> dict | None:
        """Features of a known customer who has no score yet, or None."""
        return self.unscored.get(customer_id)

    def remember(self, customer_id: int, stored: Stored) -> None:
        self.remembered[customer_id] = stored
        self.unscored.pop(customer_id, None)
