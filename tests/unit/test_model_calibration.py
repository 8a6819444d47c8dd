"""Calibrated probabilities: on customers the model never saw, a score of 0.3 means 30% churn.

Each case trains on generated rows and is judged on a large fresh sample of the same population
(another seed), where the measurement itself is precise to a few thousandths; a 2,000-row test
split alone moves the calibration error by about 0.01 from seed to seed. The average score is
held to the goal of 1 point from the churn rate, plus what no model can know better: the
training split's own churn rate is a sample (about +-0.45 points for 8,000 rows).
"""

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.metrics import fbeta_score, roc_auc_score

from churn.data.synthetic import generate
from churn.model.calibration import PlattMap
from churn.model.evaluation import best_f2_threshold, calibration_error
from churn.model.training import fit_and_evaluate, split
from tests.helpers import settings_for

pytestmark = pytest.mark.slow
JUDGED_ROWS = 40_000


@pytest.mark.parametrize(("rows", "seed", "smote"), [
    (10_000, 1, True), (10_000, 2, False), (5_000, 3, True), (20_000, 4, True)])
def test_scores_match_observed_churn_without_costing_ranking_or_f2(tmp_path, rows, seed, smote):
    settings = settings_for(tmp_path, use_smote=smote, random_state=seed)
    train_rows, test_rows = split(generate(rows, seed=seed), settings)
    fitted = fit_and_evaluate(train_rows, test_rows, settings)
    judged = generate(JUDGED_ROWS, seed=seed + 100)
    y = judged[settings.target_column].to_numpy()
    calibrated = fitted.pipeline.predict_proba(judged[settings.features])[:, 1]
    uncalibrated = fitted.pipeline.pipeline.predict_proba(judged[settings.features])[:, 1]

    assert calibration_error(y, calibrated) <= 0.02
    rate = y.mean()
    assert abs(calibrated.mean() - rate) <= 0.01 + np.sqrt(rate * (1 - rate) / len(train_rows))
    assert roc_auc_score(y, calibrated) >= roc_auc_score(y, uncalibrated) - 0.003
    # F2 at the threshold tuned on calibrated scores, against the uncalibrated model at the
    # threshold the same out-of-fold scores give it (the map is increasing: the same cut).
    mapping = fitted.pipeline.calibration
    uncalibrated_threshold = expit((logit(fitted.threshold) - mapping.intercept) / mapping.slope)
    assert fbeta_score(y, calibrated >= fitted.threshold, beta=2) >= fbeta_score(
        y, uncalibrated >= uncalibrated_threshold, beta=2) - 1e-9


def test_with_smote_the_uncalibrated_scores_run_high_and_the_map_brings_them_down(tmp_path):
    settings = settings_for(tmp_path, use_smote=True)
    train_rows, test_rows = split(generate(10_000, seed=5), settings)
    fitted = fit_and_evaluate(train_rows, test_rows, settings)
    before = fitted.calibration["uncalibrated"]
    assert before["mean_score"] > fitted.metrics["churn_rate"] + 0.03
    assert abs(fitted.metrics["mean_score"] - fitted.metrics["churn_rate"]) < 0.02
    assert fitted.metrics["calibration_error"] < before["calibration_error"]
    table = fitted.calibration["reliability"]
    assert sum(row["count"] for row in table) == len(test_rows)
    for low, high in fitted.intervals.values():
        assert low <= high


def test_the_map_is_increasing_and_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.01, 0.99, 50_000)
    outcomes = (rng.random(truth.size) < truth).astype(int)
    # Scores that exaggerate the log-odds and run high, as SMOTE's do.
    log_odds = np.log(truth / (1 - truth))
    distorted = 1 / (1 + np.exp(-(1.6 * log_odds + 0.8)))
    mapped = PlattMap.fit(distorted, outcomes)(distorted)
    assert np.all(np.diff(mapped[np.argsort(distorted)]) >= 0)
    assert np.abs(mapped - truth).max() < 0.03
    assert best_f2_threshold(outcomes, mapped)[1] == pytest.approx(
        best_f2_threshold(outcomes, distorted)[1])
