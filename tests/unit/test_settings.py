from pathlib import Path

import pytest

from churn.errors import SettingsError
from churn.settings import PROJECT_ROOT, load_settings


def test_defaults_come_from_the_config_file():
    settings = load_settings()
    assert settings.risk_medium_threshold == 0.5
    assert settings.risk_high_threshold == 0.7
    assert settings.model_type == "hist_gradient_boosting"
    assert settings.use_smote is True
    assert settings.pushgateway_url == "http://localhost:9091"
    assert "Surname" not in settings.features


def test_relative_paths_resolve_against_the_project_root():
    settings = load_settings()
    assert settings.data_path == PROJECT_ROOT / "data" / "customers.csv"
    assert settings.models_dir == PROJECT_ROOT / "models"


def test_environment_overrides_every_kind_of_value(monkeypatch):
    monkeypatch.setenv("CHURN_RISK_HIGH_THRESHOLD", "0.8")
    monkeypatch.setenv("CHURN_USE_SMOTE", "0")
    monkeypatch.setenv("CHURN_LOG_JSON", "1")
    monkeypatch.setenv("CHURN_CATEGORICAL_FEATURES", '["Geography"]')
    monkeypatch.setenv("CHURN_HYPERPARAMETERS", '{"random_forest": {"n_estimators": 10}}')
    monkeypatch.setenv("CHURN_MODEL_TYPE", "random_forest")
    monkeypatch.setenv("CHURN_MODELS_DIR", "/tmp/elsewhere")
    settings = load_settings()
    assert settings.risk_high_threshold == 0.8
    assert settings.use_smote is False and settings.log_json is True
    assert settings.categorical_features == ["Geography"]
    # A table in a variable is merged into the file's: other hyper-parameters keep their values.
    assert settings.model_hyperparameters == {
        "n_estimators": 10, "max_depth": 10, "min_samples_leaf": 5, "n_jobs": -1}
    assert settings.models_dir == Path("/tmp/elsewhere")


def test_high_threshold_below_medium_is_refused(monkeypatch):
    monkeypatch.setenv("CHURN_RISK_HIGH_THRESHOLD", "0.4")
    with pytest.raises(SettingsError, match=r"risk_high_threshold \(0.4\) must be above"):
        load_settings()


@pytest.mark.parametrize("column", ["Surname", "CustomerId", "Exited", "RowNumber"])
def test_identifiers_and_target_can_never_be_features(monkeypatch, column):
    monkeypatch.setenv("CHURN_CATEGORICAL_FEATURES", f'["Geography", "{column}"]')
    with pytest.raises(SettingsError, match=column):
        load_settings()


def test_unknown_model_type_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("CHURN_MODEL_TYPE", "xgboost")
    with pytest.raises(SettingsError, match="model_type.*hist_gradient_boosting"):
        load_settings()


def test_missing_config_file_names_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("CHURN_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="nope.toml not found"):
        load_settings()


def test_unknown_setting_in_the_file_is_refused(monkeypatch, tmp_path):
    config = tmp_path / "config" / "settings.toml"
    config.parent.mkdir()
    original = (PROJECT_ROOT / "config" / "settings.toml").read_text()
    config.write_text("risk_level_typo = 3\n" + original)
    monkeypatch.setenv("CHURN_CONFIG_FILE", str(config))
    with pytest.raises(SettingsError, match="risk_level_typo"):
        load_settings()


def test_another_config_file_moves_the_project_root(monkeypatch, tmp_path):
    config = tmp_path / "config" / "settings.toml"
    config.parent.mkdir()
    config.write_text((PROJECT_ROOT / "config" / "settings.toml").read_text())
    monkeypatch.setenv("CHURN_CONFIG_FILE", str(config))
    assert load_settings().data_path == tmp_path / "data" / "customers.csv"
