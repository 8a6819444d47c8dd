"""The generator reproduces the facts of the real bank-churn file listed in DESIGN.md."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn.data.synthetic import COLUMNS, churn_log_odds, generate

# Rates are checked within these many percentage points (50,000 rows: sampling noise < 1 point).
RATE_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return generate(50_000, seed=11)


def churn_by(frame: pd.DataFrame, column: str) -> dict:
    return frame.groupby(column)["Exited"].mean().to_dict()


def share_of(frame: pd.DataFrame, column: str) -> dict:
    return frame[column].value_counts(normalize=True).to_dict()


def assert_close(actual: dict, expected: dict, tolerance: float = RATE_TOLERANCE) -> None:
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, abs=tolerance), f"{key}: {actual[key]:.3f}"


def test_columns_are_the_public_schema_in_order(sample):
    assert list(sample.columns) == COLUMNS


def test_same_seed_same_data_other_seed_other_data():
    pd.testing.assert_frame_equal(generate(500, seed=3), generate(500, seed=3))
    assert not generate(500, seed=3).equals(generate(500, seed=4))


def test_customer_ids_are_unique_and_start_where_asked():
    frame = generate(1000, seed=1, first_id=16_000_000)
    assert frame["CustomerId"].is_unique
    assert frame["CustomerId"].min() == 16_000_000


def test_overall_churn_rate(sample):
    assert sample["Exited"].mean() == pytest.approx(0.204, abs=RATE_TOLERANCE)


def test_geography_shares_and_churn(sample):
    assert_close(share_of(sample, "Geography"), {"France": 0.50, "Germany": 0.25, "Spain": 0.25})
    assert_close(churn_by(sample, "Geography"), {"France": 0.16, "Germany": 0.32, "Spain": 0.17})


def test_gender_shares_and_churn(sample):
    assert_close(share_of(sample, "Gender"), {"Male": 0.55, "Female": 0.45})
    assert_close(churn_by(sample, "Gender"), {"Male": 0.16, "Female": 0.25})


def test_products_shares_and_churn(sample):
    assert_close(share_of(sample, "NumOfProducts"), {1: 0.51, 2: 0.46, 3: 0.027, 4: 0.006}, 0.01)
    assert_close(churn_by(sample, "NumOfProducts"), {1: 0.28, 2: 0.08, 3: 0.83}, RATE_TOLERANCE)
    assert churn_by(sample, "NumOfProducts")[4] > 0.97


def test_activity_share_and_churn(sample):
    assert share_of(sample, "IsActiveMember")[1] == pytest.approx(0.52, abs=0.01)
    assert_close(churn_by(sample, "IsActiveMember"), {1: 0.14, 0: 0.27})


def test_churn_by_age_band(sample):
    bands = pd.cut(sample["Age"], [0, 30, 40, 50, 60, 70, 200], right=False,
                   labels=["18-30", "30-40", "40-50", "50-60", "60-70", "70+"])
    rates = sample.groupby(bands, observed=True)["Exited"].mean().to_dict()
    assert_close(rates, {"18-30": 0.08, "30-40": 0.12, "40-50": 0.34, "50-60": 0.56,
                         "60-70": 0.31}, 0.04)
    assert rates["70+"] == pytest.approx(0.08, abs=0.06)  # about 1% of customers: noisier


def test_numeric_distributions(sample):
    assert sample["Age"].mean() == pytest.approx(38.9, abs=1.0)
    assert sample["Age"].std() == pytest.approx(10.5, abs=1.0)
    assert sample["Age"].min() >= 18 and sample["Age"].max() <= 92
    assert sample["CreditScore"].mean() == pytest.approx(651, abs=5)
    assert sample["CreditScore"].std() == pytest.approx(97, abs=5)
    assert sample["CreditScore"].dropna().between(350, 850).all()
    assert set(sample["Tenure"].dropna().unique()) == set(range(11))
    assert sample["EstimatedSalary"].between(0, 200_000).mean() > 0.98
    assert share_of(sample, "HasCrCard")[1] == pytest.approx(0.71, abs=0.01)


def test_has_credit_card_does_not_change_churn(sample):
    rates = churn_by(sample, "HasCrCard")
    assert rates[1] == pytest.approx(rates[0], abs=0.015)


def test_zero_balances_are_36_percent_and_never_german(sample):
    zero = sample["Balance"] == 0
    assert zero.mean() == pytest.approx(0.36, abs=0.02)
    assert not zero[sample["Geography"] == "Germany"].any()
    assert sample.loc[~zero, "Balance"].mean() == pytest.approx(120_000, rel=0.05)


def test_about_one_percent_missing_in_some_numeric_columns(sample):
    missing = sample.isna().mean()
    assert ((missing > 0.005) & (missing < 0.02)).sum() >= 3
    assert missing[["CustomerId", "Exited", "Geography", "Gender"]].eq(0).all()


def test_labels_are_learnable_but_not_trivial(sample):
    # The generator's own log-odds is the best possible score: it bounds any model's AUC.
    complete = sample.dropna()
    auc = roc_auc_score(complete["Exited"], churn_log_odds(complete))
    assert 0.84 <= auc <= 0.92


def test_drift_shifts_the_population_it_says(sample):
    drifted = generate(50_000, seed=11, drift=True)
    assert drifted["Age"].mean() > sample["Age"].mean() + 5
    assert drifted["IsActiveMember"].mean() < sample["IsActiveMember"].mean() - 0.1
    assert share_of(drifted, "Geography")["Germany"] > 0.4
    assert drifted["Exited"].mean() > sample["Exited"].mean() + 0.1


def test_rows_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        generate(0, seed=1)


def test_large_files_are_vectorised():
    frame = generate(200_000, seed=2)
    assert len(frame) == 200_000 and frame["CustomerId"].is_unique
    assert np.isfinite(frame["Balance"]).all()
