"""Reference profiles of the training data, the baseline that drift is measured against.

A numeric feature is cut at its training deciles, a categorical one by its categories; missing
values always have a bin of their own (the last), so a rise in blanks is drift too.
"""

import threading

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


# --- Measuring drift against a profile --------------------------------------------------------
# Population Stability Index: sum over bins of (actual - expected) * ln(actual / expected).
# Empty bins are floored at this share so a category never seen in training gives a large,
# finite PSI instead of an infinite one.
PSI_FLOOR = 1e-4
SCORE = "score"


def psi(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """PSI along the last axis of two arrays of bin shares (rows: features)."""
    expected = np.clip(expected, PSI_FLOOR, None)
    actual = np.clip(actual, PSI_FLOOR, None)
    return np.sum((actual - expected) * np.log(actual / expected), axis=-1)


def drifted_features(psi: dict[str, float], threshold: float) -> list[str]:
    """Features (never the score) whose PSI is at or over `threshold`, sorted by name."""
    return sorted(name for name, value in psi.items() if name != SCORE and value >= threshold)


class Binning:
    """Maps rows to the profile's bins: one column per feature (and the score), every row a bin.

    Categorical features get one extra bin, before the missing one, for categories the training
    data never had; its expected share is 0, so any such value counts as drift.
    """

    def __init__(self, profile: dict) -> None:
        self.features = list(profile["features"])
        specs = [profile["features"][name] for name in self.features] + [profile["score"]]
        self.names = [*self.features, SCORE]
        self.width = max(len(spec["proportions"]) + (spec["kind"] == "categorical") for spec in specs)
        self.expected = np.zeros((len(specs), self.width))
        self._numeric: dict[int, np.ndarray] = {}
        self._categories: dict[int, dict[str, int]] = {}
        self._bins = np.zeros(len(specs), dtype=int)
        self._missing = np.zeros((len(specs), self.width), dtype=bool)
        for column, spec in enumerate(specs):
            shares = spec["proportions"]
            if spec["kind"] == "numeric":
                self._numeric[column] = np.asarray(spec["edges"], dtype=float)
                self.expected[column, :len(shares)] = shares
            else:
                self._categories[column] = {name: index for index, name in enumerate(spec["categories"])}
                self.expected[column, :len(shares) - 1] = shares[:-1]  # known categories, unseen: 0
                self.expected[column, len(shares)] = shares[-1]        # missing
            self._bins[column] = len(shares) + (spec["kind"] == "categorical")
            self._missing[column, self._bins[column] - 1] = True

    def bins(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Bin index of every row (rows x features+score) from column arrays of equal length."""
        rows = len(next(iter(columns.values())))
        out = np.empty((rows, len(self.names)), dtype=np.int16)
        for column, name in enumerate(self.names):
            values = columns[name]
            missing_bin = self._bins[column] - 1
            if column in self._numeric:
                numbers = np.asarray(values, dtype=float)
                out[:, column] = np.where(np.isnan(numbers), missing_bin,
                                          np.searchsorted(self._numeric[column], numbers, side="left"))
            else:
                known, unseen = self._categories[column], missing_bin - 1
                out[:, column] = [missing_bin if value is None or value != value
                                  else known.get(str(value), unseen) for value in values]
        return out

    def counts(self, bins: np.ndarray) -> np.ndarray:
        """Rows per bin for each feature (features+score x width)."""
        counts = np.zeros((len(self.names), self.width))
        for column in range(len(self.names)):
            counts[column] = np.bincount(bins[:, column], minlength=self.width)[:self.width]
        return counts

    def psi(self, counts: np.ndarray, present_only: bool = False) -> dict[str, float]:
        """PSI per name from bin counts.

        `present_only` compares the distributions of present values: for inputs that cannot be
        missing (the API's), the training data's ~1% of blanks would otherwise add a constant
        0.05 or so to every feature that had any.
        """
        expected = self.expected
        if present_only:
            counts = np.where(self._missing, 0, counts)
            expected = np.where(self._missing, 0, expected)
            expected = expected / expected.sum(axis=1, keepdims=True)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        return dict(zip(self.names, psi(expected, shares).round(6).tolist(), strict=True))


class DriftWindow:
    """The last `size` scored rows, kept as bin counts updated one row at a time.

    Adding a row costs a few array updates whatever the window size; PSI is then read from the
    counts (features x bins numbers), never recomputed from the rows. Safe across threads.
    """

    def __init__(self, binning: Binning, size: int) -> None:
        self.binning, self.size = binning, size
        self._ring = np.zeros((size, len(binning.names)), dtype=np.int16)
        self._counts = np.zeros((len(binning.names), binning.width))
        self._rows = 0          # rows seen so far, of which min(rows, size) are in the window
        self._lock = threading.Lock()
        self._columns = np.arange(len(binning.names))

    def add(self, bins: np.ndarray) -> None:
        with self._lock:
            for row in bins[-self.size:]:
                slot = self._rows % self.size
                if self._rows >= self.size:
                    np.subtract.at(self._counts, (self._columns, self._ring[slot]), 1)
                self._ring[slot] = row
                np.add.at(self._counts, (self._columns, row), 1)
                self._rows += 1

    def __len__(self) -> int:
        return min(self._rows, self.size)

    def psi(self) -> dict[str, float]:
        """PSI of the window's present values (see Binning.psi)."""
        with self._lock:
            counts = self._counts.copy()
        return self.binning.psi(counts, present_only=True)

    def window_bins(self) -> np.ndarray:
        """The rows' bins currently in the window (for checks against a fresh computation)."""
        with self._lock:
            return self._ring[:len(self)].copy()
