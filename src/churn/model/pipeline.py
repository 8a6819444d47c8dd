"""The model pipeline: impute and scale numbers, impute and one-hot categories, SMOTE, classifier."""

from typing import Any

from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn.errors import SettingsError
from churn.settings import Settings

CLASSIFIERS = {
    "hist_gradient_boosting": HistGradientBoostingClassifier,
    "random_forest": RandomForestClassifier,
    "logistic_regression": LogisticRegression,
}


def build_classifier(settings: Settings) -> Any:
    estimator = CLASSIFIERS[settings.model_type](random_state=settings.random_state)
    try:
        return estimator.set_params(**settings.model_hyperparameters)
    except ValueError as exc:
        raise SettingsError(f"hyperparameters.{settings.model_type}: {exc}") from None


def build_pipeline(settings: Settings) -> Pipeline:
    """An unfitted pipeline; SMOTE, being a sampler, only acts while fitting, never on scoring."""
    preprocess = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             settings.numeric_features),
            # Categories the model never saw (a new country) are encoded as all zeros, not an error.
            ("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             settings.categorical_features),
        ],
        verbose_feature_names_out=False,
    )
    steps: list[tuple[str, Any]] = [("preprocess", preprocess)]
    if settings.use_smote:
        steps.append(("smote", SMOTE(random_state=settings.random_state)))
    steps.append(("classifier", build_classifier(settings)))
    return Pipeline(steps)
