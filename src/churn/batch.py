"""Batch prediction: scores every customer in chunks and writes the predictions file atomically."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from loguru import logger

from churn.data import iter_customer_chunks
from churn.drift import SCORE, Binning, Drift
from churn.errors import DataValidationError
from churn.files import atomic_path, check_writable
from churn.model.registry import load_model
from churn.model.scoring import check_features, trained_categories
from churn.risk import RISK_LEVELS, risk_level_codes
from churn.settings import Settings

PREDICTION_COLUMNS = ["CustomerId", "churn_probability", "risk_level", "model_version", "scored_at"]
# Written by pyarrow's CSV writer: pandas' to_csv formats value by value and took as long as
# scoring. Text columns are dictionaries (a code per row, each text once), and no value needs
# quotes: risk levels, a generated model version and a timestamp.
_LABEL = pa.dictionary(pa.int8(), pa.string())
PREDICTION_SCHEMA = pa.schema([("CustomerId", pa.int64()), ("churn_probability", pa.float64()),
                               ("risk_level", _LABEL), ("model_version", _LABEL),
                               ("scored_at", _LABEL)])
_UNQUOTED = pa_csv.WriteOptions(include_header=False, quoting_style="none")


@dataclass(frozen=True)
class BatchResult:
    """The summary a batch run logs, and later pushes as gauges."""

    rows: int
    by_level: dict[str, int]
    average_score: float
    # The sum of the calibrated scores: how many of these customers the model expects to leave.
    expected_churners: float
    duration_seconds: float
    model_version: str
    out_path: Path
    drift: Drift  # against the model's training profile


def _count_rows(path: Path) -> int:
    """Data lines in a CSV, for progress percentages; cheap next to parsing the file."""
    with path.open("rb") as handle:
        return max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)


def _prediction_table(ids: np.ndarray, probabilities: np.ndarray, level_codes: np.ndarray,
                      model_version: str, scored_at: str) -> pa.Table:
    labels, same = pa.DictionaryArray.from_arrays, np.zeros(len(ids), dtype=np.int8)
    return pa.table([ids, probabilities.round(6), labels(level_codes, list(RISK_LEVELS)),
                     labels(same, [model_version]), labels(same, [scored_at])],
                    schema=PREDICTION_SCHEMA)


def predict_batch(settings: Settings, data_path: Path | None = None,
                  out_path: Path | None = None) -> BatchResult:
    """Scores `data_path` with the latest model into `out_path`; on any error the old file stays.

    Raises OutputError before any scoring when `out_path` cannot be written.
    """
    started = time.perf_counter()
    data_path, out_path = data_path or settings.data_path, out_path or settings.predictions_path
    check_writable(out_path)
    model = load_model(settings.models_dir)
    check_features(model, settings)
    # Spelled as trained, closed categories refused: the same rule as the API's request bodies.
    categories = trained_categories(model)
    expected = _count_rows(data_path) if data_path.is_file() else 0
    scored_at = datetime.now(UTC).isoformat(timespec="seconds")
    logger.info("scoring {} with model {} into {}", data_path, model.version, out_path)

    rows, score_sum = 0, 0.0
    by_level = dict.fromkeys(RISK_LEVELS, 0)
    binning = Binning(model.metadata["reference_profile"])
    drift_counts = np.zeros((len(binning.columns), binning.width))
    with (atomic_path(out_path) as tmp, tmp.open("wb") as handle,
          pa_csv.CSVWriter(handle, PREDICTION_SCHEMA, write_options=_UNQUOTED) as writer):
        handle.write((",".join(PREDICTION_COLUMNS) + "\n").encode())
        for chunk in iter_customer_chunks(data_path, settings, settings.batch_chunk_size,
                                          categories):
            probabilities = model.pipeline.predict_proba(chunk[settings.features])[:, 1]
            level_codes = risk_level_codes(probabilities, settings)
            writer.write_table(_prediction_table(chunk[settings.id_column].to_numpy(), probabilities,
                                                 level_codes, model.version, scored_at))
            columns = {name: chunk[name].to_numpy() for name in binning.features}
            drift_counts += binning.counts(binning.bins(columns | {SCORE: probabilities}))
            rows += len(chunk)
            score_sum += float(probabilities.sum())
            counts = np.bincount(level_codes, minlength=len(RISK_LEVELS))
            for level, count in zip(RISK_LEVELS, counts, strict=True):
                by_level[level] += int(count)
            elapsed = time.perf_counter() - started
            logger.info("progress: {}/{} rows ({:.0%}), {:,.0f} rows/s", rows, expected,
                        rows / max(expected, rows), rows / elapsed)

    result = BatchResult(rows=rows, by_level=by_level, average_score=round(score_sum / rows, 6),
                         expected_churners=round(score_sum, 1),
                         duration_seconds=round(time.perf_counter() - started, 3),
                         model_version=model.version, out_path=out_path,
                         drift=binning.drift(drift_counts))
    logger.success(
        "scored {} customers in {:.2f}s: {} high, {} medium, {} low risk, average score {:.3f}, "
        "{:.0f} expected to leave; wrote {}", rows, result.duration_seconds, by_level["high"],
        by_level["medium"], by_level["low"], result.average_score, result.expected_churners,
        out_path)
    worth_a_look = result.drift.drifted(settings.drift_psi_warning)
    logger.info("drift against the training data: {}", ", ".join(
        f"{name} PSI {result.drift.features[name]:.3f}"
        for name in sorted(worth_a_look, key=lambda name: -result.drift.features[name]))
        or f"no feature over PSI {settings.drift_psi_warning}")
    return result


@dataclass(frozen=True)
class PredictionTable:
    """A predictions file in memory: ids sorted ascending, probabilities aligned with them."""

    ids: np.ndarray
    probabilities: np.ndarray
    model_version: str


# What the API reads of a predictions file, read by pyarrow: a million rows in about half the
# time of pandas' reader (0.11-0.14 s against 0.28 s here), the version held once, not per row.
_STORED_TYPES = {"CustomerId": pa.int64(), "churn_probability": pa.float64(),
                 "model_version": pa.dictionary(pa.int32(), pa.string())}


def read_predictions(path: Path) -> PredictionTable:
    """Loads a predictions file written by predict_batch, refusing one that is not."""
    if not path.is_file():
        raise DataValidationError(path, "predictions file not found (run scripts/predict_batch.py)")
    rerun = "run scripts/predict_batch.py to rewrite it"
    try:
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
            include_columns=list(_STORED_TYPES), column_types=_STORED_TYPES))
    except OSError as exc:
        raise DataValidationError(path, f"cannot be read ({exc.strerror or exc}); {rerun}") from None
    except (pa.ArrowException, UnicodeDecodeError):
        # pyarrow quotes the offending cell or row, which could be anything: say what is expected.
        raise DataValidationError(
            path, "not a predictions file of this project (it needs columns CustomerId of whole "
                  f"numbers, churn_probability of numbers, and model_version); {rerun}") from None
    versions = sorted({version for chunk in table["model_version"].chunks
                       for version in chunk.dictionary.to_pylist()})
    if len(versions) > 1:
        raise DataValidationError(path, f"mixes predictions of {len(versions)} models; {rerun}")
    ids = table["CustomerId"].to_numpy()
    order = np.argsort(ids)
    loaded = PredictionTable(ids=ids[order], probabilities=table["churn_probability"].to_numpy()[order],
                             model_version=versions[0] if versions else "")
    del table, ids
    # The arrays above are copies: the file's buffers go back to the system, not to a pool
    # kept for reads that never come (about 60 MB of a server's memory for 1M predictions).
    pa.default_memory_pool().release_unused()
    return loaded


def unscored_customers(settings: Settings, scored_ids: np.ndarray,
                       categories: dict[str, list[str]] | None = None) -> dict[int, dict]:
    """Features of customers in the customers file that have no precomputed prediction.

    `categories`: the served model's trained ones, checked as predict_batch checks them.
    """
    path = settings.data_path
    if not path.is_file():
        return {}
    try:
        if np.isin(pd.read_csv(path, usecols=[settings.id_column])[settings.id_column].to_numpy(),
                   scored_ids).all():
            return {}
    except ValueError:
        pass  # a broken file: the validating reader below names what is wrong with it
    unscored: dict[int, dict] = {}
    for chunk in iter_customer_chunks(path, settings, settings.batch_chunk_size, categories):
        missing = chunk[~np.isin(chunk[settings.id_column].to_numpy(), scored_ids)]
        features = missing[settings.features].astype(object).where(missing[settings.features].notna())
        for customer_id, row in zip(missing[settings.id_column], features.to_dict("records"),
                                    strict=True):
            unscored[int(customer_id)] = row
    return unscored
