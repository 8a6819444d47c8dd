"""Risk levels: each threshold belongs to the level above it, and comes from the settings."""

import numpy as np
import pytest

from churn.risk import RISK_LEVELS, risk_level, risk_level_codes
from tests.helpers import settings_for


@pytest.mark.parametrize(("probability", "level"), [
    (0.0, "low"), (0.4999, "low"), (0.5, "medium"), (0.6999, "medium"), (0.7, "high"), (1.0, "high"),
])
def test_risk_level_boundaries_belong_to_the_higher_level(settings, probability, level):
    assert risk_level(probability, settings) == level
    assert [RISK_LEVELS[code] for code in risk_level_codes(np.array([probability]), settings)] == [level]


def test_thresholds_come_from_the_settings(tmp_path):
    strict = settings_for(tmp_path, risk_medium_threshold=0.3, risk_high_threshold=0.9)
    codes = risk_level_codes(np.array([0.2, 0.3, 0.8, 0.9]), strict)
    assert [RISK_LEVELS[code] for code in codes] == ["low", "medium", "medium", "high"]
