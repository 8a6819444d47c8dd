"""Seeded, offline generator of bank-churn customers in the public data set's schema.

Marginal shares and churn rates by group follow the real 10,000-row file (see DESIGN.md); churn
is drawn from an additive log-odds model whose coefficients were fitted to those rates, so a good
model reaches about the same AUC as on the real file. `drift=True` shifts the population (older,
less active, more German customers, lower credit scores) for drift demonstrations.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from loguru import logger

from churn.errors import ChurnError
from churn.files import atomic_path, check_writable

COLUMNS = [
    "RowNumber", "CustomerId", "Surname", "CreditScore", "Geography", "Gender", "Age", "Tenure",
    "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary", "Exited",
]
FIRST_CUSTOMER_ID = 15_565_701
# The default file: as many customers as the real data set, and the seed the README's ids come from.
DEFAULT_ROWS, DEFAULT_SEED = 10_000, 42
AGE_BAND_EDGES = [30, 40, 50, 60, 70]  # bands: <30, 30-40, 40-50, 50-60, 60-70, 70+
MISSING_SHARE = 0.01
MISSING_COLUMNS = ["CreditScore", "Age", "Tenure", "EstimatedSalary"]

SURNAMES = np.array([
    "Smith", "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Garcia", "Fernandez", "Lopez",
    "Martinez", "Sanchez", "Perez", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer",
    "Wagner", "Becker", "Hoffmann", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano",
    "Chen", "Wang", "Li", "Nguyen", "Tran", "Okafor", "Onyekachi", "Mbeki", "Kowalski", "Nowak",
    "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Roberts", "Walker",
])


def _population(drift: bool) -> dict[str, dict]:
    """Shares of each category; the drifted population is older, less active, more German."""
    return {
        "Geography": {"France": 0.35, "Germany": 0.45, "Spain": 0.20} if drift
        else {"France": 0.50, "Germany": 0.25, "Spain": 0.25},
        "Gender": {"Male": 0.55, "Female": 0.45},
        "NumOfProducts": {1: 0.508, 2: 0.459, 3: 0.027, 4: 0.006},
        "IsActiveMember": {1: 0.35, 0: 0.65} if drift else {1: 0.52, 0: 0.48},
        "HasCrCard": {1: 0.71, 0: 0.29},
    }


# Log-odds of churn, fitted so that the churn rate of every group below matches the real file.
INTERCEPT = -2.8721
LOG_ODDS = {
    "Geography": {"France": 0.0, "Germany": 1.4951, "Spain": 0.1132},
    "Gender": {"Male": 0.0, "Female": 0.9215},
    "NumOfProducts": {1: 0.0, 2: -2.1048, 3: 3.6679, 4: 7.7223},
    "IsActiveMember": {0: 0.0, 1: -1.3491},
    "AgeBand": [0.0, 0.6627, 2.5975, 3.9270, 2.3948, 0.1169],
}
CREDIT_SCORE_LOG_ODDS_PER_100 = -0.08  # slightly lower churn for better credit, as in the real file


def _draw(rng: np.random.Generator, shares: dict, rows: int) -> np.ndarray:
    values = list(shares)
    probabilities = np.array(list(shares.values()), dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=rows, p=probabilities / probabilities.sum())]


def churn_log_odds(frame: pd.DataFrame) -> np.ndarray:
    """The generator's true log-odds of churn for fully observed rows."""
    age_band = np.searchsorted(AGE_BAND_EDGES, frame["Age"].to_numpy(), side="right")
    log_odds = INTERCEPT + np.asarray(LOG_ODDS["AgeBand"])[age_band]
    for column in ("Geography", "Gender", "NumOfProducts", "IsActiveMember"):
        log_odds = log_odds + frame[column].map(LOG_ODDS[column]).to_numpy(dtype=float)
    return log_odds + CREDIT_SCORE_LOG_ODDS_PER_100 * (frame["CreditScore"].to_numpy() - 650) / 100


def generate(rows: int, seed: int, drift: bool = False,
             first_id: int = FIRST_CUSTOMER_ID) -> pd.DataFrame:
    """`rows` customers, identical for the same arguments; about 1% of some numbers missing."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    shares = _population(drift)
    frame = pd.DataFrame({
        "RowNumber": np.arange(1, rows + 1),
        "CustomerId": first_id + rng.permutation(rows),
        "Surname": SURNAMES[rng.integers(0, len(SURNAMES), rows)],
        # Right-skewed ages: 18 + gamma gives mean 38.9 and sd 10.5 like the real file.
        "Age": np.clip(18 + rng.gamma(3.96, 5.27, rows) + (8 if drift else 0), 18, 92).astype(int),
        "CreditScore": np.clip(rng.normal(611 if drift else 651, 97, rows), 350, 850).round().astype(int),
        "Tenure": rng.choice(11, size=rows, p=np.r_[0.5, [1.0] * 9, 0.5] / 10),
    })
    for column in ("Geography", "Gender", "NumOfProducts", "IsActiveMember", "HasCrCard"):
        frame[column] = _draw(rng, shares[column], rows)

    # 36% of balances are zero overall, none of them German: 48% outside Germany.
    zero_balance = (frame["Geography"] != "Germany").to_numpy() & (rng.random(rows) < 0.48)
    balance = np.clip(rng.normal(120_000, 30_000, rows), 1_000, None).round(2)
    frame["Balance"] = np.where(zero_balance, 0.0, balance)
    frame["EstimatedSalary"] = rng.uniform(11.58, 199_992.48, rows).round(2)
    churn_probability = 1 / (1 + np.exp(-churn_log_odds(frame)))
    frame["Exited"] = (rng.random(rows) < churn_probability).astype(int)

    # Missing values are blanked after the label is drawn, so imputation has work to do.
    for column in MISSING_COLUMNS:
        frame[column] = frame[column].astype(float).mask(rng.random(rows) < MISSING_SHARE)
    return frame[COLUMNS]


def write_customers(path: Path, rows: int, seed: int, drift: bool = False,
                    first_id: int = FIRST_CUSTOMER_ID) -> Path:
    """Generates and writes the file atomically, so a reader never sees half of it."""
    if rows < 1:
        raise ChurnError(f"--rows must be at least 1, got {rows}")
    check_writable(path)
    frame = generate(rows, seed, drift=drift, first_id=first_id)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    logger.success("wrote {} {}customers to {} (seed {}, churn rate {:.1%})", rows,
                   "drifted " if drift else "", path, seed, frame["Exited"].mean())
    return path
