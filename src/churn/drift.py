"""Reference profiles of the training data, the baseline that drift is measured against.

A numeric feature is cut at its training deciles, a categorical one by its categories; missing
values always have a bin of their own (the last), so a rise in blanks is drift too.
"""

import numpy as np
import pandas as pd

SCORE_EDGES = [round(0.1 * step, 1) for step in range(1, 10)]


def _proportions(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(count / total), 6) for count in counts] if total else [0.0] * len(counts)


def numeric_profile(values: pd.Series, edges: list[float] | None = None) -> dict:
    """Bins (-inf, e1], (e1, e2], ..., (ek, inf) and missing; edges default to the deciles."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    present = numbers[~np.isnan(numbers)]
    if edges is None:
        edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9))).tolist() if present.size else []
    bins = np.searchsorted(edges, present, side="left")
    counts = np.append(np.bincount(bins, minlength=len(edges) + 1), np.isnan(numbers).sum())
    return {"kind": "numeric", "edges": [float(edge) for edge in edges],
            "proportions": _proportions(counts)}


def categorical_profile(values: pd.Series) -> dict:
    """Share of each category seen, most common first, then the share of missing values."""
    shares = values.value_counts(dropna=True)
    counts = np.append(shares.to_numpy(), values.isna().sum())
    return {"kind": "categorical", "categories": [str(name) for name in shares.index],
            "proportions": _proportions(counts)}


def build_profile(frame: pd.DataFrame, numeric: list[str], categorical: list[str],
                  scores: np.ndarray) -> dict:
    """The reference a model carries in its metadata: every feature and the predicted scores."""
    features = {name: numeric_profile(frame[name]) for name in numeric}
    features |= {name: categorical_profile(frame[name]) for name in categorical}
    return {"features": features, "score": numeric_profile(pd.Series(scores), SCORE_EDGES)}
