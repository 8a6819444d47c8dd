"""Retraining promotes a challenger that holds up and keeps the champion otherwise."""

import shutil

import pandas as pd
import pytest
from loguru import logger

from churn.data.synthetic import generate
from churn.errors import ChurnError
from churn.model.registry import latest_version, read_metadata
from churn.model.retraining import retrain
from tests.helpers import settings_for

NEW_ROWS = 2000


@pytest.fixture
def warnings_logged():
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", level="WARNING")
    yield lines
    logger.remove(sink)


@pytest.fixture
def project(trained_project, tmp_path):
    shutil.copytree(trained_project.models_dir, tmp_path / "models")
    (tmp_path / "data").mkdir()
    shutil.copy(trained_project.data_path, tmp_path / "data" / "customers.csv")
    return tmp_path


@pytest.fixture
def new_data(project):
    """New customers, plus ten existing ones coming back with changed details."""
    current = pd.read_csv(project / "data" / "customers.csv")
    returning = current.head(10).assign(Age=77, Exited=1)
    fresh = generate(NEW_ROWS - 10, seed=3, first_id=16_000_000)
    path = project / "new.csv"
    pd.concat([fresh, returning]).to_csv(path, index=False)
    return path


def test_challenger_within_tolerance_is_promoted_and_data_merged(project, new_data):
    settings = settings_for(project, retrain_f2_tolerance=0.5)
    champion = latest_version(settings.models_dir)
    run = retrain(settings, new_data)
    assert run.promoted and run.champion_version == champion
    assert latest_version(settings.models_dir) == run.version
    decision = read_metadata(settings.models_dir, run.version)["retraining"]
    assert decision["promoted"] is True
    assert decision["champion_f2"] == run.champion_f2
    assert decision["challenger_f2"] == run.challenger_f2
    # The same algorithm on a little more data: a difference the held-out rows cannot resolve.
    low, high = decision["f2_difference_interval"]
    assert low <= run.challenger_f2 - run.champion_f2 <= high
    assert decision["within_noise"] is (low <= 0 <= high)

    merged = pd.read_csv(settings.data_path)
    assert len(merged) == 3000 + NEW_ROWS - 10
    assert merged["CustomerId"].is_unique
    returning = merged[merged["CustomerId"].isin(pd.read_csv(new_data).tail(10)["CustomerId"])]
    assert (returning["Age"] == 77).all() and (returning["Exited"] == 1).all()
    assert "Surname" in merged.columns and merged["RowNumber"].tolist() == list(range(1, len(merged) + 1))


def test_worse_challenger_is_kept_but_not_promoted(project, new_data):
    # A logistic regression regularised into a constant cannot rank customers at all.
    settings = settings_for(project, model_type="logistic_regression", retrain_f2_tolerance=0.0,
                            hyperparameters={"logistic_regression": {"C": 1e-9}})
    champion = latest_version(settings.models_dir)
    data_before = settings.data_path.read_bytes()
    run = retrain(settings, new_data)
    assert not run.promoted
    assert run.challenger_f2 < run.champion_f2
    assert latest_version(settings.models_dir) == champion
    decision = read_metadata(settings.models_dir, run.version)["retraining"]
    assert decision["promoted"] is False
    # Flagging every customer is worse than the champion by more than chance.
    assert decision["within_noise"] is False and decision["f2_difference_interval"][1] < 0
    assert settings.data_path.read_bytes() == data_before


def test_champion_and_challenger_are_judged_on_the_same_new_rows(project, new_data):
    run = retrain(settings_for(project), new_data)
    decision = run.metadata["retraining"]
    assert decision["holdout_rows"] == run.metadata["rows"]["test"]
    assert decision["holdout_rows"] <= NEW_ROWS // 2
    assert run.metadata["rows"]["train"] + decision["holdout_rows"] == run.metadata["rows"]["total"]


def test_too_little_new_data_changes_nothing(project):
    settings = settings_for(project)
    generate(30, seed=4, first_id=17_000_000).to_csv(project / "tiny.csv", index=False)
    versions = sorted(path.name for path in settings.models_dir.iterdir())
    data_before = settings.data_path.read_bytes()
    with pytest.raises(ChurnError, match="too few rows of each class"):
        retrain(settings, project / "tiny.csv")
    assert sorted(path.name for path in settings.models_dir.iterdir()) == versions
    assert settings.data_path.read_bytes() == data_before


def test_new_data_identical_to_the_current_data_is_refused(project):
    settings = settings_for(project)
    versions = sorted(path.name for path in settings.models_dir.iterdir())
    data_before = settings.data_path.read_bytes()
    shutil.copy(settings.data_path, project / "same.csv")
    with pytest.raises(ChurnError, match=r"same.csv holds nothing new: all its 3000 rows are already"):
        retrain(settings, project / "same.csv")
    assert sorted(path.name for path in settings.models_dir.iterdir()) == versions
    assert settings.data_path.read_bytes() == data_before


def test_rows_already_known_are_kept_out_of_the_holdout_and_recorded(project, new_data, warnings_logged):
    current = pd.read_csv(project / "data" / "customers.csv")
    known = current.iloc[10:].sample(600, random_state=1)  # not the ten new_data changes
    pd.concat([pd.read_csv(new_data), known]).to_csv(project / "mixed.csv", index=False)
    run = retrain(settings_for(project, retrain_f2_tolerance=0.5), project / "mixed.csv")
    (warning,) = run.metadata["retraining"]["warnings"]
    assert warning == {"kind": "unchanged_rows", "rows": 600, "share": round(600 / (NEW_ROWS + 600), 4)}
    assert run.metadata["retraining"]["holdout_rows"] <= NEW_ROWS // 2
    assert any("600 of its 2600 rows (23.1%) are already in the current data" in line
               for line in warnings_logged)


def test_a_category_the_champion_never_saw_is_warned_about_and_recorded(project, new_data,
                                                                         warnings_logged):
    new = pd.read_csv(new_data)
    new.loc[new.sample(frac=0.1, random_state=2).index, "Geography"] = "Atlantis"
    new.to_csv(project / "atlantis.csv", index=False)
    run = retrain(settings_for(project, retrain_f2_tolerance=0.5), project / "atlantis.csv")
    (warning,) = run.metadata["retraining"]["warnings"]
    assert warning == {"kind": "unseen_categories", "column": "Geography", "values": ["Atlantis"],
                       "rows": NEW_ROWS // 10, "share": 0.1}
    assert read_metadata(settings_for(project).models_dir, run.version)["retraining"]["warnings"] == [
        warning]
    assert any("Geography has 1 value(s) the current data never had ('Atlantis') in 200 rows (10.0%)"
               in line for line in warnings_logged)
