"""The one settings object: defaults from config/settings.toml, overridden by CHURN_* variables."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import ByteSize, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from churn.errors import SettingsError

# src/churn/settings.py -> the repository root, where config/ lives (editable install or image).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
NEVER_FEATURES = frozenset({"RowNumber", "CustomerId", "Surname"})
ModelType = Literal["hist_gradient_boosting", "random_forest", "logistic_regression"]


def config_file() -> Path:
    """The settings file in force: CHURN_CONFIG_FILE, else the project's config/settings.toml."""
    return Path(os.environ.get("CHURN_CONFIG_FILE", PROJECT_ROOT / "config" / "settings.toml"))


class Settings(BaseSettings):
    """Every tunable of the project. Field defaults live in the settings file, not here."""

    model_config = SettingsConfigDict(env_prefix="CHURN_", extra="forbid", frozen=True)

    root_dir: Path = Field(default_factory=lambda: config_file().resolve().parent.parent)
    data_path: Path
    predictions_path: Path
    models_dir: Path
    logs_dir: Path
    runbooks_dir: Path

    id_column: str
    target_column: str
    numeric_features: list[str]
    categorical_features: list[str]

    model_type: ModelType
    hyperparameters: dict[str, dict[str, Any]]
    use_smote: bool
    test_size: float = Field(gt=0, lt=1)
    cv_folds: int = Field(ge=2, le=20)
    random_state: int

    risk_medium_threshold: float = Field(gt=0, lt=1)
    risk_high_threshold: float = Field(gt=0, lt=1)
    batch_chunk_size: int = Field(ge=100)
    retrain_f2_tolerance: float = Field(ge=0, lt=1)
    pushgateway_url: str
    pushgateway_timeout_seconds: float = Field(gt=0, le=60)
    prometheus_url: str
    api_url: str
    alertmanager_url: str
    grafana_url: str

    api_max_batch: int = Field(ge=1, le=100_000)
    api_max_body_bytes: int = Field(ge=1024)
    api_body_timeout_seconds: float = Field(gt=0, le=3600)
    api_scoring_batch_rows: int = Field(ge=1, le=100_000)
    admin_token: SecretStr
    demo_faults: bool
    api_start_unready: bool
    multiprocess_dir: Path

    drift_window_size: int = Field(ge=10, le=1_000_000)
    drift_min_rows: int = Field(ge=1)
    drift_psi_threshold: float = Field(gt=0)
    drift_psi_warning: float = Field(gt=0)
    log_input_samples: float = Field(ge=0, le=1)

    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"]
    log_json: bool
    log_rotation: ByteSize = Field(gt=0)
    log_backups: int = Field(ge=1)
    log_flush_seconds: float = Field(ge=0, le=10)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: explicit arguments, then CHURN_* variables, then the file.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_file())

    @model_validator(mode="after")
    def _check_consistency(self) -> "Settings":
        if self.risk_high_threshold <= self.risk_medium_threshold:
            raise ValueError(
                f"risk_high_threshold ({self.risk_high_threshold}) must be above "
                f"risk_medium_threshold ({self.risk_medium_threshold})"
            )
        if self.drift_min_rows > self.drift_window_size:
            raise ValueError(f"drift_min_rows ({self.drift_min_rows}) cannot exceed "
                             f"drift_window_size ({self.drift_window_size})")
        if self.drift_psi_warning > self.drift_psi_threshold:
            raise ValueError(f"drift_psi_warning ({self.drift_psi_warning}) must not exceed "
                             f"drift_psi_threshold ({self.drift_psi_threshold})")
        features = self.numeric_features + self.categorical_features
        if not features:
            raise ValueError("no features configured: numeric_features and categorical_features are empty")
        if len(set(features)) != len(features):
            raise ValueError(f"a column is listed twice among the features: {features}")
        forbidden = set(features) & (NEVER_FEATURES | {self.id_column, self.target_column})
        if forbidden:
            raise ValueError(f"{sorted(forbidden)} can never be model features")
        return self

    @model_validator(mode="after")
    def _resolve_paths(self) -> "Settings":
        # Relative paths mean "inside the project", whatever the current directory is.
        for name in ("data_path", "predictions_path", "models_dir", "logs_dir", "multiprocess_dir",
                     "runbooks_dir"):
            path = getattr(self, name)
            if not path.is_absolute():
                object.__setattr__(self, name, self.root_dir / path)
        return self

    @property
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features]

    @property
    def model_hyperparameters(self) -> dict[str, Any]:
        return dict(self.hyperparameters.get(self.model_type, {}))


def load_settings(**overrides: Any) -> Settings:
    """Builds the settings, turning a missing file or a bad value into one readable error."""
    path = config_file()
    if not path.is_file():
        raise SettingsError(f"settings file {path} not found (set CHURN_CONFIG_FILE to another one)")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings ({path} or CHURN_* variables): {problems}") from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    return load_settings()
