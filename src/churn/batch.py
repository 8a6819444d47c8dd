"""Batch prediction: scores every customer in chunks and writes the predictions file atomically."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from loguru import logger

from churn.data import iter_customer_chunks
from churn.drift import SCORE, Binning
from churn.errors import DataValidationError
from churn.files import atomic_path
from churn.metrics import JOB_BATCH, batch_registry, drift_registry, publish, read_gauge
from churn.model.registry import load_model
from churn.model.scoring import RISK_LEVELS, check_features, risk_levels
from churn.settings import Settings

PREDICTION_COLUMNS = ["CustomerId", "churn_probability", "risk_level", "model_version", "scored_at"]


@dataclass(frozen=True)
class BatchResult:
    """The summary a batch run logs, and later pushes as gauges."""

    rows: int
    by_level: dict[str, int]
    average_score: float
    duration_seconds: float
    model_version: str
    out_path: Path
    psi: dict[str, float]  # per feature, and "score", against the model's training profile


def _count_rows(path: Path) -> int:
    """Data lines in a CSV, for progress percentages; cheap next to parsing the file."""
    with path.open("rb") as handle:
        return max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)


def predict_batch(settings: Settings, data_path: Path | None = None,
                  out_path: Path | None = None, push: bool = True) -> BatchResult:
    """Scores `data_path` with the latest model into `out_path`; on any error the old file stays.

    The summary is published as gauges, in `out_path` with the suffix .prom and to the Pushgateway.
    """
    started = time.perf_counter()
    data_path, out_path = data_path or settings.data_path, out_path or settings.predictions_path
    model = load_model(settings.models_dir)
    check_features(model, settings)
    expected = _count_rows(data_path) if data_path.is_file() else 0
    scored_at = datetime.now(UTC).isoformat(timespec="seconds")
    logger.info("scoring {} with model {} into {}", data_path, model.version, out_path)

    rows, score_sum = 0, 0.0
    by_level = dict.fromkeys(RISK_LEVELS, 0)
    binning = Binning(model.metadata["reference_profile"])
    drift_counts = np.zeros((len(binning.names), binning.width))
    with atomic_path(out_path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(PREDICTION_COLUMNS) + "\n")
        for chunk in iter_customer_chunks(data_path, settings, settings.batch_chunk_size):
            probabilities = model.pipeline.predict_proba(chunk[settings.features])[:, 1]
            levels = risk_levels(probabilities, settings)
            pd.DataFrame({
                "CustomerId": chunk[settings.id_column].to_numpy(),
                # Rounded here rather than with float_format, which formats value by value.
                "churn_probability": probabilities.round(6),
                "risk_level": levels,
                "model_version": model.version,
                "scored_at": scored_at,
            }).to_csv(handle, header=False, index=False)
            columns = {name: chunk[name].to_numpy() for name in binning.features}
            drift_counts += binning.counts(binning.bins(columns | {SCORE: probabilities}))
            rows += len(chunk)
            score_sum += float(probabilities.sum())
            for level, count in zip(*np.unique(levels, return_counts=True), strict=True):
                by_level[str(level)] += int(count)
            elapsed = time.perf_counter() - started
            logger.info("progress: {}/{} rows ({:.0%}), {:,.0f} rows/s", rows, expected,
                        rows / max(expected, rows), rows / elapsed)

    result = BatchResult(rows=rows, by_level=by_level, average_score=round(score_sum / rows, 6),
                         duration_seconds=round(time.perf_counter() - started, 3),
                         model_version=model.version, out_path=out_path,
                         psi=binning.psi(drift_counts))
    logger.success(
        "scored {} customers in {:.2f}s: {} high, {} medium, {} low risk, average score {:.3f}; "
        "wrote {}", rows, result.duration_seconds, by_level["high"], by_level["medium"],
        by_level["low"], result.average_score, out_path)
    drifted = {name: value for name, value in result.psi.items()
               if name != SCORE and value >= settings.drift_psi_warning}
    logger.info("drift against the training data: {}", ", ".join(
        f"{name} PSI {value:.3f}" for name, value in sorted(drifted.items(), key=lambda item: -item[1]))
        or f"no feature over PSI {settings.drift_psi_warning}")
    textfile = out_path.with_suffix(".prom")
    previous = read_gauge(textfile, "churn_predictions_high_risk")
    registry = batch_registry(rows, by_level, result.average_score, result.duration_seconds,
                              previous_high_risk=previous)
    drift_registry(registry, result.psi, settings.drift_psi_threshold)
    publish(JOB_BATCH, registry, settings, textfile, push)
    return result


@dataclass(frozen=True)
class PredictionTable:
    """A predictions file in memory: ids sorted ascending, probabilities aligned with them."""

    ids: np.ndarray
    probabilities: np.ndarray
    model_version: str


def read_predictions(path: Path) -> PredictionTable:
    """Loads a predictions file written by predict_batch, refusing one that is not."""
    if not path.is_file():
        raise DataValidationError(path, "predictions file not found (run scripts/predict_batch.py)")
    try:
        frame = pd.read_csv(path, usecols=["CustomerId", "churn_probability", "model_version"],
                            dtype={"CustomerId": "int64", "churn_probability": "float64",
                                   "model_version": str})
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(path, f"not a predictions file of this project ({exc})") from None
    versions = frame["model_version"].unique()
    if len(versions) > 1:
        raise DataValidationError(path, f"mixes predictions of several models: {sorted(versions)}")
    order = np.argsort(frame["CustomerId"].to_numpy(), kind="stable")
    return PredictionTable(ids=frame["CustomerId"].to_numpy()[order],
                           probabilities=frame["churn_probability"].to_numpy()[order],
                           model_version=str(versions[0]) if len(versions) else "")


def unscored_customers(settings: Settings, scored_ids: np.ndarray) -> dict[int, dict]:
    """Features of customers in the customers file that have no precomputed prediction."""
    path = settings.data_path
    if not path.is_file():
        return {}
    ids = pd.read_csv(path, usecols=[settings.id_column])[settings.id_column].to_numpy()
    if np.isin(ids, scored_ids).all():
        return {}
    unscored: dict[int, dict] = {}
    for chunk in iter_customer_chunks(path, settings, settings.batch_chunk_size):
        missing = chunk[~np.isin(chunk[settings.id_column].to_numpy(), scored_ids)]
        features = missing[settings.features].astype(object).where(missing[settings.features].notna())
        for customer_id, row in zip(missing[settings.id_column], features.to_dict("records"),
                                    strict=True):
            unscored[int(customer_id)] = row
    return unscored
