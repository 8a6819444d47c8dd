"""Drift: how far scored data has moved from the training data, feature by feature.

A model carries a reference profile of its training data: a numeric feature is cut at its
training deciles, a categorical one by its categories, and missing values always have a bin of
their own (the last), so a rise in blanks is drift too. Data scored later (the API's recent
inputs, a batch, a file for the report) is binned the same way and compared with the Population
Stability Index.
"""

import threading
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Drift:
    """PSI against the training profile: of each feature, and of the model's scores apart.

    Only features decide whether data drifted; the scores' PSI says how much the model's
    answers moved, which follows from the features and is reported beside them.
    """

    features: dict[str, float]
    score: float

    @classmethod
    def none_yet(cls, features: list[str]) -> "Drift":
        """What is reported before there is anything to judge: every PSI 0."""
        return cls(dict.fromkeys(features, 0.0), 0.0)

    def drifted(self, threshold: float) -> list[str]:
        """Features whose PSI is at or over `threshold`, sorted by name."""
        return sorted(name for name, value in self.features.items() if value >= threshold)

    def detected(self, threshold: float) -> bool:
        return bool(self.drifted(threshold))


class Binning:
    """Maps rows to the profile's bins and turns bin counts into a Drift.

    Every profiled column (each feature, then the score) is one row of a table of bins, padded
    to the widest column:
      numeric      one bin per interval between the training deciles, then `missing`;
      categorical  one bin per category seen in training, then `unseen` (expected share 0, so
                   any category the training data never had counts as drift), then `missing`.
    """

    def __init__(self, profile: dict) -> None:
        self.features = list(profile["features"])
        specs = [profile["features"][name] for name in self.features] + [profile["score"]]
        self.columns = [*self.features, SCORE]
        self.width = max(len(spec["proportions"]) + (spec["kind"] == "categorical") for spec in specs)
        # Training share of every bin of every column (columns x width); padding stays 0.
        self.expected = np.zeros((len(specs), self.width))
        self._edges: dict[int, np.ndarray] = {}                  # numeric column -> decile edges
        self._category_bin: dict[int, dict[str, int]] = {}       # categorical column -> bins
        self._missing_bin = np.zeros(len(specs), dtype=int)      # column -> its last bin
        self._is_missing_bin = np.zeros((len(specs), self.width), dtype=bool)
        for column, spec in enumerate(specs):
            shares = spec["proportions"]
            if spec["kind"] == "numeric":
                self._edges[column] = np.asarray(spec["edges"], dtype=float)
                self.expected[column, :len(shares)] = shares
            else:
                self._category_bin[column] = {name: index for index, name in enumerate(spec["categories"])}
                self.expected[column, :len(shares) - 1] = shares[:-1]  # known categories, unseen: 0
                self.expected[column, len(shares)] = shares[-1]        # missing
            self._missing_bin[column] = len(shares) - 1 + (spec["kind"] == "categorical")
            self._is_missing_bin[column, self._missing_bin[column]] = True

    def bins(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Bin index of every row (rows x columns) from value arrays of equal length."""
        rows = len(next(iter(values.values())))
        out = np.empty((rows, len(self.columns)), dtype=np.int16)
        for column, name in enumerate(self.columns):
            column_values = values[name]
            missing_bin = self._missing_bin[column]
            if column in self._edges:
                numbers = np.asarray(column_values, dtype=float)
                out[:, column] = np.where(np.isnan(numbers), missing_bin,
                                          np.searchsorted(self._edges[column], numbers, side="left"))
            else:
                known, unseen = self._category_bin[column], missing_bin - 1
                out[:, column] = [missing_bin if value is None or value != value
                                  else known.get(str(value), unseen) for value in column_values]
        return out

    def counts(self, bins: np.ndarray) -> np.ndarray:
        """Rows per bin of each column (columns x width)."""
        counts = np.zeros((len(self.columns), self.width))
        for column in range(len(self.columns)):
            counts[column] = np.bincount(bins[:, column], minlength=self.width)[:self.width]
        return counts

    def drift(self, counts: np.ndarray, present_only: bool = False) -> Drift:
        """The Drift of data binned into `counts`.

        `present_only` compares the distributions of present values: for inputs that cannot be
        missing (the API's), the training data's ~1% of blanks would otherwise add a constant
        0.05 or so to every feature that had any.
        """
        expected = self.expected
        if present_only:
            counts = np.where(self._is_missing_bin, 0, counts)
            expected = np.where(self._is_missing_bin, 0, expected)
            expected = expected / expected.sum(axis=1, keepdims=True)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        *features, score = psi(expected, shares).round(6).tolist()
        return Drift(dict(zip(self.features, features, strict=True)), score)


class DriftWindow:
    """The last `size` scored rows, kept as bin counts updated one row at a time.

    Adding a row costs a few array updates whatever the window size; PSI is then read from the
    counts (features x bins numbers), never recomputed from the rows. Safe across threads.
    """

    def __init__(self, binning: Binning, size: int) -> None:
        self.binning, self.size = binning, size
        self._ring = np.zeros((size, len(binning.columns)), dtype=np.int16)
        self._counts = np.zeros((len(binning.columns), binning.width))
        self._rows = 0          # rows seen so far, of which min(rows, size) are in the window
        self._lock = threading.Lock()
        self._columns = np.arange(len(binning.columns))

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

    def drift(self) -> Drift:
        """Drift of the window's present values (see Binning.drift)."""
        with self._lock:
            counts = self._counts.copy()
        return self.binning.drift(counts, present_only=True)

    def judged(self, min_rows: int) -> Drift | None:
        """The window's drift once it holds `min_rows` rows; before that, too few to judge."""
        return self.drift() if len(self) >= min_rows else None

    def window_bins(self) -> np.ndarray:
        """The rows' bins currently in the window (for checks against a fresh computation)."""
        with self._lock:
            return self._ring[:len(self)].copy()
