"""Retraining: merge new data into the current data, train a challenger, promote it only if it holds up.

Champion and challenger are judged on the same held-out rows, drawn from the new data only:
the champion cannot have trained on them, and they describe the customers the next model serves.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from loguru import logger
from sklearn.model_selection import train_test_split

from churn.data import load_customers
from churn.errors import ChurnError
from churn.files import atomic_path, check_writable
from churn.model.evaluation import evaluate, f2_difference_interval
from churn.model.registry import LATEST, load_model, promote, save_model
from churn.model.scoring import check_features
from churn.model.training import data_record, fit_and_evaluate
from churn.settings import Settings

# The held-out rows are at most this share of the new data, so the challenger still learns from it.
MAX_HOLDOUT_SHARE_OF_NEW = 0.5
MIN_HOLDOUT_ROWS_PER_CLASS = 10
# How many never-seen values of a column a warning names; longer values are cut.
SHOWN_VALUES, SHOWN_VALUE_CHARS = 3, 24


@dataclass(frozen=True)
class RetrainingRun:
    version: str
    promoted: bool
    champion_version: str
    champion_f2: float
    challenger_f2: float
    metadata: dict


def _merge(base: pd.DataFrame, new: pd.DataFrame, id_column: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of both, the newest winning per customer, and a mask of the rows that came from `new`."""
    both = pd.concat([base, new], ignore_index=True)
    keep = ~both[id_column].duplicated(keep="last").to_numpy()
    from_new = np.r_[np.zeros(len(base), bool), np.ones(len(new), bool)]
    return both[keep], from_new[keep]


def _unchanged(base: pd.DataFrame, new: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Mask of the new rows already in the base data with the same features and label."""
    columns = [settings.id_column, *settings.features, settings.target_column]
    known = set(pd.util.hash_pandas_object(base[columns], index=False))
    return pd.util.hash_pandas_object(new[columns], index=False).isin(known).to_numpy()


def _shown(values: list[str]) -> str:
    cut = [value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "…"
           for value in values[:SHOWN_VALUES]]
    return ", ".join(map(repr, cut)) + (", …" if len(values) > SHOWN_VALUES else "")


def _warnings(base: pd.DataFrame, new: pd.DataFrame, unchanged: np.ndarray,
              settings: Settings) -> list[dict]:
    """What a person should know before trusting the challenger; each is also logged."""
    found = []
    if unchanged.any():
        found.append({"kind": "unchanged_rows", "rows": int(unchanged.sum()),
                      "share": round(float(unchanged.mean()), 4)})
        logger.warning("new data: {} of its {} rows ({:.1%}) are already in the current data with "
                       "the same values; they train the challenger but are left out of the holdout, "
                       "which the champion may have trained on", int(unchanged.sum()), len(new),
                       unchanged.mean())
    for column in settings.categorical_features:
        unseen = new.loc[~new[column].isin(base[column].unique()), column]
        if unseen.empty:
            continue
        values = sorted(unseen.unique())
        found.append({"kind": "unseen_categories", "column": column, "values": values,
                      "rows": len(unseen), "share": round(len(unseen) / len(new), 4)})
        logger.warning("new data: {} has {} value(s) the current data never had ({}) in {} rows "
                       "({:.1%}); the champion scores them as unknown, the challenger learns them "
                       "from these rows alone: check they are not a typo", column, len(values),
                       _shown(values), len(unseen), len(unseen) / len(new))
    return found


def _holdout(candidates: pd.DataFrame, size: int, settings: Settings) -> pd.DataFrame:
    labels = candidates[settings.target_column]
    smallest_class = int(labels.value_counts().reindex([0, 1], fill_value=0).min())
    if smallest_class * size / len(candidates) < MIN_HOLDOUT_ROWS_PER_CLASS:
        raise ChurnError(
            f"the new data has too few rows of each class to judge the models ({len(candidates)} new "
            f"rows, {smallest_class} in the smaller class); bring at least "
            f"{2 * MIN_HOLDOUT_ROWS_PER_CLASS} churners and {2 * MIN_HOLDOUT_ROWS_PER_CLASS} stayers")
    _, holdout = train_test_split(candidates, test_size=size, stratify=labels,
                                  random_state=settings.random_state)
    return holdout


def _write_merged(base_path: Path, new_path: Path, keep: pd.Index, settings: Settings) -> None:
    """Rewrites the base file as the merged table, every original column and value kept as text."""
    raw = pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False)
                     for path in (base_path, new_path)], ignore_index=True).loc[keep]
    if "RowNumber" in raw.columns:
        raw["RowNumber"] = np.arange(1, len(raw) + 1)
    with atomic_path(base_path) as tmp:
        raw.to_csv(tmp, index=False)
    logger.info("data: {} now holds the {} merged customers", base_path, len(raw))


def retrain(settings: Settings, new_data: Path, base_data: Path | None = None) -> RetrainingRun:
    """Trains a challenger on base + new data; promotes it and merges the data only if it wins.

    Raises OutputError before training when what a promotion rewrites (`latest`, the base data)
    cannot be written: a winner must not be left half promoted.
    """
    started = time.perf_counter()
    base_data = base_data or settings.data_path
    for output in (settings.models_dir / LATEST, base_data):
        check_writable(output)
    champion = load_model(settings.models_dir)
    check_features(champion, settings)
    base = load_customers(base_data, settings)
    new = load_customers(new_data, settings)
    unchanged = _unchanged(base, new, settings)
    if unchanged.all():
        raise ChurnError(f"{new_data} holds nothing new: all its {len(new)} rows are already in "
                         f"{base_data} with the same values")
    warnings = _warnings(base, new, unchanged, settings)
    merged, from_new = _merge(base, new, settings.id_column)
    updated = int(new[settings.id_column].isin(base[settings.id_column]).sum())
    logger.info("combine: {} current rows + {} new rows ({} updated customers) = {} customers",
                len(base), len(new), updated, len(merged))

    fresh = from_new & ~merged[settings.id_column].isin(new.loc[unchanged, settings.id_column])
    size = min(round(settings.test_size * len(merged)), int(fresh.sum() * MAX_HOLDOUT_SHARE_OF_NEW))
    holdout = _holdout(merged[fresh], size, settings)
    train = merged.drop(index=holdout.index)
    logger.info("holdout: {} new rows (churn {:.1%}) judge champion {} and the challenger",
                len(holdout), holdout[settings.target_column].mean(), champion.version)

    challenger = fit_and_evaluate(train, holdout, settings)
    y_holdout = holdout[settings.target_column].to_numpy()
    champion_scores = champion.pipeline.predict_proba(holdout[settings.features])[:, 1]
    champion_metrics = evaluate(y_holdout, champion_scores, champion.metadata["threshold"])
    champion_f2, challenger_f2 = champion_metrics["f2"], challenger.metrics["f2"]
    promoted = challenger_f2 >= champion_f2 - settings.retrain_f2_tolerance
    low, high = f2_difference_interval(
        y_holdout, challenger.pipeline.predict_proba(holdout[settings.features])[:, 1],
        challenger.threshold, champion_scores, champion.metadata["threshold"],
        seed=settings.random_state)
    decision = {
        "champion_version": champion.version,
        "champion_f2": champion_f2,
        "challenger_f2": challenger_f2,
        "champion_metrics": champion_metrics,
        "tolerance": settings.retrain_f2_tolerance,
        # Challenger minus champion F2 over resamples of the held-out rows: spanning 0, the
        # difference is within what another holdout of this size could show.
        "f2_difference_interval": [low, high],
        "within_noise": low <= 0 <= high,
        "promoted": promoted,
        "holdout_rows": len(holdout),
        "warnings": warnings,
    }
    logger.info("decision: challenger F2 {:.3f} vs champion F2 {:.3f} (tolerance {}): {}",
                challenger_f2, champion_f2, settings.retrain_f2_tolerance,
                "promote" if promoted else "keep the champion")
    logger.info("decision: the F2 difference, {:+.3f}, lies between {:+.3f} and {:+.3f} on 95% of "
                "resamples of the {} held-out rows: {}", challenger_f2 - champion_f2, low, high,
                len(holdout), "within chance, the two models are not told apart" if low <= 0 <= high
                else "larger than chance")

    rows = {"total": len(merged), "train": len(train), "test": len(holdout),
            "churners": int(merged[settings.target_column].sum()), "new": len(new),
            "updated": updated}
    metadata = challenger.metadata(
        settings, rows, {"base": data_record(base_data), "new": data_record(new_data)})
    metadata["training_duration_seconds"] = round(time.perf_counter() - started, 3)
    metadata["retraining"] = decision
    version = save_model(settings.models_dir, challenger.pipeline, metadata)
    if promoted:
        _write_merged(base_data, new_data, merged.index, settings)
        promote(settings.models_dir, version)
        logger.success("challenger {} promoted to latest", version)
    else:
        logger.warning("challenger {} kept in {} but not promoted; latest stays {}", version,
                       settings.models_dir / version, champion.version)
    return RetrainingRun(version=version, promoted=promoted, champion_version=champion.version,
                         champion_f2=champion_f2, challenger_f2=challenger_f2, metadata=metadata)
