"""Calibration methods compared on generated data: what training's Platt map does against the
alternatives, with SMOTE on and off.

For each seed, the project's pipeline is fitted on the training split; its out-of-fold scores
(5 folds, the training split only) fit each calibration, and the F2 threshold is tuned on the
calibrated out-of-fold scores; the test split judges. Methods:
  raw        the classifier's own scores;
  prior      SMOTE's 50% churn corrected to the training split's rate (Bayes' rule on the odds);
  isotonic   isotonic regression on the out-of-fold scores;
  platt      a logistic map of the log-odds (what training uses).
Run by hand; it is not a test. Figures are noisy on 2,000 test rows: compare across seeds.
"""

import argparse
import sys

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from churn.data.synthetic import generate
from churn.model.calibration import PlattMap
from churn.model.evaluation import best_f2_threshold, calibration_error, evaluate
from churn.model.pipeline import build_pipeline
from churn.model.training import split
from churn.settings import load_settings


def prior_corrected(probabilities: np.ndarray, rate: float, sampled_rate: float = 0.5) -> np.ndarray:
    """Scores of a model trained at `sampled_rate` churn, moved to a population at `rate`."""
    odds = probabilities / (1 - probabilities) * (rate / (1 - rate)) / (sampled_rate / (1 - sampled_rate))
    return odds / (1 + odds)


def compare(rows: int, seed: int, smote: bool) -> None:
    settings = load_settings(use_smote=smote, random_state=seed)
    train, test = split(generate(rows, seed=seed), settings)
    X, y = train[settings.features], train[settings.target_column].to_numpy()
    y_test = test[settings.target_column].to_numpy()
    folds = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=seed)
    out_of_fold = cross_val_predict(build_pipeline(settings), X, y, cv=folds,
                                    method="predict_proba")[:, 1]
    scores = build_pipeline(settings).fit(X, y).predict_proba(test[settings.features])[:, 1]
    isotonic = IsotonicRegression(out_of_bounds="clip").fit(out_of_fold, y)
    platt = PlattMap.fit(out_of_fold, y)
    methods = {"raw": lambda p: p, "isotonic": isotonic.predict, "platt": platt}
    if smote:
        methods["prior"] = lambda p: prior_corrected(p, y.mean())
    for name, method in methods.items():
        threshold, _ = best_f2_threshold(y, method(out_of_fold))
        calibrated = method(scores)
        print(f"seed {seed} {rows:>6} rows  SMOTE {'on ' if smote else 'off'}  {name:>8}: "
              f"AUC {roc_auc_score(y_test, calibrated):.4f}  mean {calibrated.mean():.3f} "
              f"(churn {y_test.mean():.3f})  ECE {calibration_error(y_test, calibrated):.4f}  "
              f"Brier {brier_score_loss(y_test, calibrated):.4f}  "
              f"share >= 0.7 {np.mean(calibrated >= 0.7):.3f}  "
              f"F2 {evaluate(y_test, calibrated, threshold)['f2']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="generated customers (default 10000)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    for seed in range(1, args.seeds + 1):
        for smote in (True, False):
            compare(args.rows, seed, smote)
    return 0


if __name__ == "__main__":
    sys.exit(main())
