"""Training: split, calibrate and tune the threshold out of fold, fit stage by stage, evaluate,
register.

The calibration map and the threshold are fitted on out-of-fold predictions of the training
split only, so the test metrics are an honest estimate of what the served probabilities and the
chosen threshold will do on unseen customers. Each test metric comes with a bootstrap interval.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from loguru import logger
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline as ServedPipeline

from churn.data import load_customers
from churn.drift import build_profile
from churn.files import check_writable, sha256_of
from churn.model.calibration import CalibratedModel, PlattMap
from churn.model.evaluation import best_f2_threshold, bootstrap_intervals, evaluate, reliability
from churn.model.pipeline import build_pipeline
from churn.model.registry import LATEST, promote, save_model
from churn.settings import Settings


@dataclass
class FittedModel:
    """A fitted pipeline with everything its metadata needs to say about it."""

    pipeline: CalibratedModel
    threshold: float
    cv_f2: float
    metrics: dict
    intervals: dict[str, list[float]]
    calibration: dict
    profile: dict
    stage_seconds: dict[str, float]

    def metadata(self, settings: Settings, rows: dict[str, int], data: dict) -> dict:
        classifier = self.pipeline.named_steps["classifier"]
        return {
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "algorithm": settings.model_type,
            "parameters": {key: value for key, value in classifier.get_params().items()
                           if isinstance(value, str | int | float | bool | type(None))},
            "smote": settings.use_smote,
            "threshold": round(self.threshold, 6),
            "cv_f2": round(self.cv_f2, 4),
            "metrics": self.metrics,
            "metric_intervals": self.intervals,
            "calibration": self.calibration,
            "features": {"numeric": settings.numeric_features,
                         "categorical": settings.categorical_features},
            "id_column": settings.id_column,
            "target_column": settings.target_column,
            "rows": rows,
            "training_data": data,
            "stage_seconds": self.stage_seconds,
            "reference_profile": self.profile,
        }


def split(frame: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split, reproducible through random_state."""
    train, test = train_test_split(frame, test_size=settings.test_size,
                                   stratify=frame[settings.target_column],
                                   random_state=settings.random_state)
    logger.info("split: {} training rows (churn {:.1%}), {} test rows (churn {:.1%})",
                len(train), train[settings.target_column].mean(),
                len(test), test[settings.target_column].mean())
    return train, test


def tune_threshold(train: pd.DataFrame, settings: Settings) -> tuple[PlattMap, float, float]:
    """The calibration map, then the F2-optimal threshold of calibrated scores, both fitted on
    out-of-fold predictions of the training rows alone."""
    folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=settings.random_state)
    y = train[settings.target_column].to_numpy()
    out_of_fold = cross_val_predict(build_pipeline(settings), train[settings.features], y,
                                    cv=folds, method="predict_proba")[:, 1]
    calibration = PlattMap.fit(out_of_fold, y)
    threshold, f2 = best_f2_threshold(y, calibration(out_of_fold))
    logger.info("calibrate: out-of-fold mean score {:.3f} -> {:.3f} (churn rate {:.3f})",
                out_of_fold.mean(), calibration(out_of_fold).mean(), y.mean())
    logger.info("tune: {}-fold out-of-fold F2 {:.3f} at threshold {:.3f}",
                settings.cv_folds, f2, threshold)
    return calibration, threshold, f2


def _fit_stages(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, settings: Settings,
                seconds: dict[str, float]) -> None:
    """Fits the pipeline's steps one at a time so each stage can report what it did."""
    started = time.perf_counter()
    features = pipeline.named_steps["preprocess"].fit_transform(X, y)
    seconds["transform"] = round(time.perf_counter() - started, 3)
    numeric = pipeline.named_steps["preprocess"].named_transformers_["numeric"]
    fills = dict(zip(settings.numeric_features, numeric[0].statistics_, strict=True))
    missing = X.isna().sum()
    logger.info("impute: {} missing values filled ({})", int(missing.sum()),
                ", ".join(f"{name} {count} -> {fills.get(name, 'most frequent')}"
                          for name, count in missing[missing > 0].items()) or "none")
    logger.info("transform: {} columns in, {} model features out", X.shape[1], features.shape[1])

    labels = y
    if "smote" in pipeline.named_steps:
        started = time.perf_counter()
        features, labels = pipeline.named_steps["smote"].fit_resample(features, y)
        seconds["smote"] = round(time.perf_counter() - started, 3)
        logger.info("smote: classes {} -> {} rows ({} synthetic churners)",
                    np.bincount(y).tolist(), np.bincount(labels).tolist(), len(labels) - len(y))
    started = time.perf_counter()
    pipeline.named_steps["classifier"].fit(features, labels)
    seconds["fit"] = round(time.perf_counter() - started, 3)
    logger.info("fit: {} on {} rows in {:.2f}s", settings.model_type, len(labels), seconds["fit"])


def _served(pipeline: Pipeline, calibration: PlattMap) -> CalibratedModel:
    """The fitted steps that act on scoring (SMOTE only acts while fitting), then the calibration."""
    return CalibratedModel(ServedPipeline([(name, step) for name, step in pipeline.steps
                                           if name != "smote"]), calibration)


def fit_and_evaluate(train: pd.DataFrame, test: pd.DataFrame, settings: Settings) -> FittedModel:
    """Calibrates and tunes on `train`, fits on all of it, and reports metrics on `test` at the
    tuned threshold, with how far each could move on another test split."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    calibration, threshold, cv_f2 = tune_threshold(train, settings)
    seconds["tune"] = round(time.perf_counter() - started, 3)

    pipeline = build_pipeline(settings)
    _fit_stages(pipeline, train[settings.features], train[settings.target_column].to_numpy(),
                settings, seconds)
    y_test = test[settings.target_column].to_numpy()
    uncalibrated = pipeline.predict_proba(test[settings.features])[:, 1]
    scores = calibration(uncalibrated)
    metrics = evaluate(y_test, scores, threshold)
    intervals = bootstrap_intervals(y_test, scores, threshold, seed=settings.random_state)
    logger.info("evaluate: test F2 {f2:.3f}, ROC-AUC {roc_auc:.3f}, PR-AUC {pr_auc:.3f}, "
                "precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}", **metrics)
    logger.info("evaluate: 95% bootstrap intervals {}", ", ".join(
        f"{name} {low:.3f}-{high:.3f}" for name, (low, high) in intervals.items()))
    logger.info("evaluate: confusion matrix {}", metrics["confusion_matrix"])
    report = _calibration_report(calibration, metrics, evaluate(y_test, uncalibrated, threshold),
                                 reliability(y_test, scores))
    profile = build_profile(train, settings.numeric_features, settings.categorical_features, scores)
    return FittedModel(_served(pipeline, calibration), threshold, cv_f2, metrics, intervals,
                       report, profile, seconds)


def _calibration_report(calibration: PlattMap, metrics: dict, uncalibrated: dict,
                        table: list[dict]) -> dict:
    """The metadata's calibration entry, logged: the map, its reliability table on the test
    split, and the uncalibrated scores' figures to compare with."""
    logger.info("calibration: mean score {:.3f} for a churn rate of {:.3f}; Brier {:.4f} "
                "(uncalibrated {:.4f}); expected calibration error {:.4f} (uncalibrated {:.4f})",
                metrics["mean_score"], metrics["churn_rate"], metrics["brier"],
                uncalibrated["brier"], metrics["calibration_error"], uncalibrated["calibration_error"])
    logger.info("calibration: reliability (score bin: mean score / churn rate / customers) {}",
                "; ".join(f"{row['bin']}: {row['mean_score']:.3f} / {row['observed_rate']:.3f} / "
                          f"{row['count']}" for row in table))
    return {"method": "platt", "slope": round(calibration.slope, 6),
            "intercept": round(calibration.intercept, 6), "reliability": table,
            "uncalibrated": {name: uncalibrated[name] for name in (
                "brier", "calibration_error", "mean_score", "roc_auc")}}


@dataclass(frozen=True)
class TrainingRun:
    """What a training run produced, for the caller to report or push."""

    version: str
    metadata: dict
    promoted: bool


def data_record(path: Path) -> dict[str, Any]:
    return {"path": str(path), "sha256": sha256_of(path)}


def train(settings: Settings, data_path: Path | None = None) -> TrainingRun:
    """Trains on the customers file, saves a new version and makes it `latest`.

    Raises OutputError before training when the models folder or `latest` cannot be written.
    """
    started = time.perf_counter()
    data_path = data_path or settings.data_path
    check_writable(settings.models_dir / LATEST)
    frame = load_customers(data_path, settings)
    logger.info("load: {} rows, {} features, churn rate {:.1%} from {}", len(frame),
                len(settings.features), frame[settings.target_column].mean(), data_path)
    train_rows, test_rows = split(frame, settings)
    fitted = fit_and_evaluate(train_rows, test_rows, settings)

    rows = {"total": len(frame), "train": len(train_rows), "test": len(test_rows),
            "churners": int(frame[settings.target_column].sum())}
    metadata = fitted.metadata(settings, rows, data_record(data_path))
    metadata["training_duration_seconds"] = round(time.perf_counter() - started, 3)
    version = save_model(settings.models_dir, fitted.pipeline, metadata)
    promote(settings.models_dir, version)
    logger.success("save: model {} saved to {} and made latest ({:.1f}s in all)", version,
                   settings.models_dir / version, metadata["training_duration_seconds"])
    return TrainingRun(version=version, metadata=metadata, promoted=True)
