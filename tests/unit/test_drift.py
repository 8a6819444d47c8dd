"""PSI and the sliding window: hand-computed values, the generator's own drift, odd inputs."""

import math
import threading

import numpy as np
import pandas as pd
import pytest

from churn.data.synthetic import generate
from churn.drift import SCORE, Binning, DriftWindow, build_profile, psi

NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
           "IsActiveMember", "EstimatedSalary"]
CATEGORICAL = ["Geography", "Gender"]


def columns_of(frame: pd.DataFrame, scores: np.ndarray) -> dict:
    return {name: frame[name].to_numpy(dtype=object if name in CATEGORICAL else float)
            for name in NUMERIC + CATEGORICAL} | {SCORE: scores}


@pytest.fixture(scope="module")
def reference() -> tuple[Binning, pd.DataFrame]:
    frame = generate(20_000, seed=1)
    scores = np.random.default_rng(1).beta(2, 5, len(frame))
    return Binning(build_profile(frame, NUMERIC, CATEGORICAL, scores)), frame


def batch_psi(binning: Binning, frame: pd.DataFrame, seed: int = 2) -> dict[str, float]:
    """PSI of each feature of `frame`, scored at random."""
    scores = np.random.default_rng(seed).beta(2, 5, len(frame))
    return binning.drift(binning.counts(binning.bins(columns_of(frame, scores)))).features


def test_psi_of_a_hand_computed_example():
    value = psi(np.array([0.5, 0.5]), np.array([0.7, 0.3]))
    assert value == pytest.approx(0.2 * math.log(0.7 / 0.5) + 0.2 * math.log(0.5 / 0.3))
    assert psi(np.array([0.2, 0.3, 0.5]), np.array([0.2, 0.3, 0.5])) == 0


def test_a_fresh_sample_of_the_same_population_does_not_drift(reference):
    binning, _ = reference
    values = batch_psi(binning, generate(5_000, seed=2))
    assert max(values.values()) < 0.05


def test_the_drifted_population_drifts_where_it_was_shifted(reference):
    binning, _ = reference
    values = batch_psi(binning, generate(5_000, seed=3, drift=True))
    assert values["Age"] > 0.25 and values["Geography"] > 0.1 and values["IsActiveMember"] > 0.1
    assert values["Gender"] < 0.05 and values["HasCrCard"] < 0.05


def test_unseen_categories_and_empty_columns_give_large_finite_psi(reference):
    binning, frame = reference
    odd = frame.head(500).assign(Geography="Portugal", Age=np.nan)
    values = batch_psi(binning, odd)
    assert all(math.isfinite(value) for value in values.values())
    assert values["Geography"] > 1 and values["Age"] > 1
    bins = binning.bins(columns_of(odd.head(1), np.array([0.3])))
    geography = binning.columns.index("Geography")
    # The "unseen" bin comes right after one bin per category the training data had.
    assert bins[0, geography] == frame["Geography"].nunique()


def test_missing_values_have_a_bin_of_their_own(reference):
    binning, frame = reference
    blank = frame.head(200).assign(CreditScore=np.nan, Gender=None)
    values = batch_psi(binning, blank)
    assert values["CreditScore"] > 1 and values["Gender"] > 1


def test_present_only_psi_ignores_the_missing_bin(reference):
    binning, _ = reference
    complete = generate(5_000, seed=7).dropna()
    scores = np.random.default_rng(7).beta(2, 5, len(complete))
    counts = binning.counts(binning.bins(columns_of(complete, scores)))
    with_missing = binning.drift(counts).features
    present_only = binning.drift(counts, present_only=True).features
    # No blanks at all against ~1% in training: a bias of about 0.05 that present_only removes.
    assert with_missing["CreditScore"] - present_only["CreditScore"] > 0.03
    assert present_only["CreditScore"] < 0.02


def test_window_psi_equals_a_fresh_computation_over_its_rows(reference):
    binning, _ = reference
    frame = generate(700, seed=5, drift=True)
    bins = binning.bins(columns_of(frame, np.random.default_rng(5).beta(2, 5, len(frame))))
    window = DriftWindow(binning, size=256)
    for start in range(0, 300, 7):         # uneven pieces, like requests
        window.add(bins[start:start + 7])
    window.add(bins[300:301])
    for row in bins[301:]:                  # then one row at a time, wrapping the ring
        window.add(row[np.newaxis])
    assert len(window) == 256
    fresh = binning.drift(binning.counts(bins[-256:]), present_only=True)
    assert window.drift().features == pytest.approx(fresh.features, abs=1e-9)
    assert window.drift().score == pytest.approx(fresh.score, abs=1e-9)
    assert (np.sort(window.window_bins(), axis=0) == np.sort(bins[-256:], axis=0)).all()


def test_window_is_consistent_under_concurrent_writers(reference):
    binning, _ = reference
    bins = binning.bins(columns_of(generate(400, seed=6), np.full(400, 0.2)))
    window = DriftWindow(binning, size=300)
    threads = [threading.Thread(target=lambda: [window.add(bins[i:i + 1]) for i in range(400)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(window) == 300
    # The running counts agree with the rows the window holds: no update was lost.
    fresh = binning.drift(binning.counts(window.window_bins()), present_only=True)
    assert window.drift().features == pytest.approx(fresh.features, abs=1e-9)
