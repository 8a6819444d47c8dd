"""Batch prediction writes a complete predictions file, or leaves the old one as it was."""

import shutil

import numpy as np
import pandas as pd
import pytest

from churn.batch import PREDICTION_COLUMNS, predict_batch, read_predictions
from churn.data.synthetic import generate
from churn.errors import DataValidationError, ModelLoadError, OutputError
from churn.model.registry import latest_version
from tests.helpers import settings_for


@pytest.fixture
def project(trained_project, tmp_path):
    """Settings over a copy of the trained project, with the default chunk size lowered."""
    shutil.copytree(trained_project.models_dir, tmp_path / "models")
    (tmp_path / "data").mkdir()
    shutil.copy(trained_project.data_path, tmp_path / "data" / "customers.csv")
    return settings_for(tmp_path, batch_chunk_size=700)


def scores_as_the_original(project, tmp_path, changed: pd.DataFrame) -> bool:
    """Whether the customers file, rewritten as `changed`, scores exactly as the original does."""
    changed.to_csv(tmp_path / "changed.csv", index=False)
    predict_batch(project, out_path=tmp_path / "a.csv")
    predict_batch(project, data_path=tmp_path / "changed.csv", out_path=tmp_path / "b.csv")
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    return bool((a["churn_probability"] == b["churn_probability"]).all())


def test_every_customer_is_scored_once(project):
    result = predict_batch(project)
    predictions = pd.read_csv(project.predictions_path)
    customers = pd.read_csv(project.data_path)
    assert list(predictions.columns) == PREDICTION_COLUMNS
    assert result.rows == len(predictions) == len(customers)
    assert predictions["CustomerId"].tolist() == customers["CustomerId"].tolist()
    assert predictions["churn_probability"].between(0, 1).all()
    assert set(predictions["model_version"]) == {latest_version(project.models_dir)}
    assert predictions["scored_at"].nunique() == 1


def test_risk_levels_follow_the_thresholds(project):
    predict_batch(project)
    predictions = pd.read_csv(project.predictions_path)
    expected = np.where(predictions["churn_probability"] >= 0.7, "high",
                        np.where(predictions["churn_probability"] >= 0.5, "medium", "low"))
    assert (predictions["risk_level"] == expected).all()


def test_summary_matches_the_file(project):
    result = predict_batch(project)
    predictions = pd.read_csv(project.predictions_path)
    assert result.by_level == predictions["risk_level"].value_counts().reindex(
        ["low", "medium", "high"], fill_value=0).to_dict()
    assert result.average_score == pytest.approx(predictions["churn_probability"].mean(), abs=1e-5)


def test_chunk_size_does_not_change_the_scores(project, tmp_path):
    predict_batch(project, out_path=tmp_path / "chunked.csv")
    whole = settings_for(tmp_path, batch_chunk_size=100_000)
    predict_batch(whole, data_path=project.data_path, out_path=tmp_path / "whole.csv")
    chunked, single = pd.read_csv(tmp_path / "chunked.csv"), pd.read_csv(tmp_path / "whole.csv")
    pd.testing.assert_frame_equal(chunked.drop(columns="scored_at"), single.drop(columns="scored_at"))


def test_scores_do_not_depend_on_identity_columns(project, tmp_path):
    customers = pd.read_csv(project.data_path)
    renamed = customers.assign(Surname="Anonymous", CustomerId=customers["CustomerId"] + 10**7,
                               RowNumber=0)
    assert scores_as_the_original(project, tmp_path, renamed)


def test_bad_row_late_in_the_file_keeps_the_old_predictions(project, tmp_path):
    predict_batch(project)
    before = project.predictions_path.read_bytes()
    customers = pd.read_csv(project.data_path)
    customers.loc[2500, "Age"] = -1
    customers.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataValidationError, match="line 2502, column Age"):
        predict_batch(project, data_path=tmp_path / "bad.csv")
    assert project.predictions_path.read_bytes() == before
    assert [path.name for path in project.predictions_path.parent.iterdir()
            if path.name.endswith(".tmp")] == []


def test_customers_without_labels_can_be_scored(project, tmp_path):
    generate(300, seed=9).drop(columns="Exited").to_csv(tmp_path / "unlabelled.csv", index=False)
    assert predict_batch(project, data_path=tmp_path / "unlabelled.csv").rows == 300


def test_model_trained_on_other_features_is_refused(project):
    narrower = settings_for(project.models_dir.parent, categorical_features=["Geography"])
    with pytest.raises(ModelLoadError, match="trained on features"):
        predict_batch(narrower)


def test_batch_reports_drift_of_a_shifted_population(project, tmp_path):
    generate(2000, seed=12, drift=True).to_csv(tmp_path / "drifted.csv", index=False)
    drifted = predict_batch(project, data_path=tmp_path / "drifted.csv", out_path=tmp_path / "d.csv")
    assert drifted.drift.features["Age"] > 0.25
    assert drifted.drift.detected(project.drift_psi_threshold)
    same = predict_batch(project)
    assert max(same.drift.features.values()) < 0.1
    assert not same.drift.detected(project.drift_psi_threshold)


def test_categories_are_spelled_as_trained_before_scoring(project, tmp_path):
    customers = pd.read_csv(project.data_path)
    france = customers.index[customers["Geography"] == "France"][:20]
    respelled = customers.copy()
    respelled.loc[france, "Geography"] = [" france", "FRANCE ", "france"] * 6 + ["France"] * 2
    respelled.loc[france, "Gender"] = respelled.loc[france, "Gender"].str.lower()
    assert scores_as_the_original(project, tmp_path, respelled)


def test_untrained_gender_is_refused_in_one_line_and_keeps_the_old_predictions(project, tmp_path):
    predict_batch(project)
    before = project.predictions_path.read_bytes()
    customers = pd.read_csv(project.data_path)
    customers.loc[1500, "Gender"] = "X"
    customers.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataValidationError,
                       match="line 1502, column Gender: not a category") as caught:
        predict_batch(project, data_path=tmp_path / "bad.csv")
    assert "\n" not in str(caught.value)
    assert project.predictions_path.read_bytes() == before


def test_header_only_file_is_refused_and_keeps_the_old_predictions(project, tmp_path):
    predict_batch(project)
    before = project.predictions_path.read_bytes()
    pd.read_csv(project.data_path).iloc[:0].to_csv(tmp_path / "header.csv", index=False)
    with pytest.raises(DataValidationError, match="header.csv: no data rows below the header"):
        predict_batch(project, data_path=tmp_path / "header.csv")
    assert project.predictions_path.read_bytes() == before


def refuse_to_score(*args, **kwargs):
    raise AssertionError("the output should have been checked before any scoring")


@pytest.mark.parametrize("blocked", ["folder", "file above", "read-only"])
def test_an_unwritable_output_is_found_before_scoring(project, tmp_path, monkeypatch, blocked):
    monkeypatch.setattr("churn.batch.iter_customer_chunks", refuse_to_score)
    out = tmp_path / "out" / "predictions.csv"
    if blocked == "folder":
        out.mkdir(parents=True)
    elif blocked == "file above":
        (tmp_path / "out").write_text("a file\n")
    else:
        out.parent.mkdir()
        out.write_text("keep\n")
        out.chmod(0o444)
    with pytest.raises(OutputError):
        predict_batch(project, out_path=out)
    if blocked == "read-only":
        assert out.read_text() == "keep\n"


def test_the_written_file_reads_back_sorted_by_id_with_its_scores(project):
    predict_batch(project)
    written = pd.read_csv(project.predictions_path)
    table = read_predictions(project.predictions_path)
    expected = written.sort_values("CustomerId")
    assert table.ids.tolist() == expected["CustomerId"].tolist()
    assert table.probabilities.tolist() == expected["churn_probability"].tolist()
    assert table.model_version == latest_version(project.models_dir)
    # Plain CSV a person can read and grep: no quotes, six decimals at most.
    first_row = project.predictions_path.read_text().splitlines()[1]
    assert '"' not in first_row and len(first_row.split(",")[1].split(".")[-1]) <= 6


HEADER = "CustomerId,churn_probability,risk_level,model_version,scored_at\n"


@pytest.mark.parametrize("content", [
    pytest.param(HEADER + "15565701,Smith,low,v1,t\n", id="text-where-a-score-belongs"),
    pytest.param(HEADER + "Smith,0.5,low,v1,t\n", id="text-where-an-id-belongs"),
    pytest.param("CustomerId,Surname\n15565701,Smith\n", id="columns-missing"),
    pytest.param(HEADER + "15565701,0.5,low,v1,t,Smith\n", id="a-row-too-long"),
    pytest.param("", id="empty"),
    pytest.param(HEADER.replace(",", ";"), id="not-comma-separated"),
])
def test_a_broken_predictions_file_is_refused_without_quoting_it(tmp_path, content):
    path = tmp_path / "predictions.csv"
    path.write_text(content)
    with pytest.raises(DataValidationError, match="not a predictions file of this project") as error:
        read_predictions(path)
    assert "Smith" not in str(error.value)


def test_a_predictions_file_of_two_models_is_refused(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text(HEADER + "1,0.5,medium,v1,t\n2,0.1,low,v2,t\n")
    with pytest.raises(DataValidationError, match="mixes predictions of 2 models"):
        read_predictions(path)
