"""Loading refuses every kind of bad file with the file, line and column of the first problem."""

from pathlib import Path

import pandas as pd
import pytest

from churn.data import iter_customer_chunks, load_customers
from churn.data.synthetic import generate
from churn.errors import DataValidationError


def write(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def frame() -> pd.DataFrame:
    return generate(50, seed=5)


def refused(path: Path, settings, **kwargs) -> DataValidationError:
    with pytest.raises(DataValidationError) as caught:
        load_customers(path, settings, **kwargs)
    return caught.value


def test_valid_file_keeps_only_id_features_and_target(settings, frame, tmp_path):
    loaded = load_customers(write(tmp_path / "c.csv", frame), settings)
    assert list(loaded.columns) == ["CustomerId", *settings.features, "Exited"]
    assert "Surname" not in loaded.columns and "RowNumber" not in loaded.columns
    assert len(loaded) == 50
    assert loaded["CustomerId"].dtype == "int64"


def test_extra_columns_are_ignored(settings, frame, tmp_path):
    loaded = load_customers(write(tmp_path / "c.csv", frame.assign(Notes="vip")), settings)
    assert "Notes" not in loaded.columns


def test_target_is_optional_for_scoring(settings, frame, tmp_path):
    path = write(tmp_path / "c.csv", frame.drop(columns="Exited"))
    assert "Exited" not in load_customers(path, settings, with_target=False).columns
    assert refused(path, settings).column == "Exited"


def test_missing_column_names_the_column_and_header_line(settings, frame, tmp_path):
    error = refused(write(tmp_path / "c.csv", frame.drop(columns="Age")), settings)
    assert (error.line, error.column) == (1, "Age")
    assert "c.csv, line 1, column Age: required column missing" in str(error)


@pytest.mark.parametrize(
    ("column", "row", "value", "message"),
    [
        ("Age", 7, "forty", "'forty' is not a number"),
        ("Age", 3, -4, "-4 is not a number from 18 to 120"),
        ("CreditScore", 10, 950, "950 is not a number from 300 to 900"),
        ("CreditScore", 0, 120, "120 is not a number from 300 to 900"),
        ("Exited", 20, 2, "2 is not one of 0, 1"),
        ("IsActiveMember", 4, 0.5, "0.5 is not one of 0, 1"),
        ("NumOfProducts", 5, 1.5, "1.5 is not a whole number from 1 to 10"),
        ("Balance", 8, -10, "-10 is not a number of at least 0"),
        ("CustomerId", 12, None, "value is missing"),
        ("CustomerId", 2, "abc", "'abc' is not a number"),
        ("Geography", 6, "x" * 65, "text longer than 64 characters"),
    ],
)
def test_bad_value_names_file_line_and_column(settings, frame, tmp_path, column, row, value,
                                              message):
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    error = refused(write(tmp_path / "c.csv", frame), settings)
    # Data row `row` (0-based) sits on file line row + 2: line 1 is the header.
    assert (error.line, error.column) == (row + 2, column)
    assert str(error) == f"{tmp_path / 'c.csv'}, line {row + 2}, column {column}: {message}"


def test_missing_feature_values_are_allowed_for_imputation(settings, frame, tmp_path):
    frame.loc[3, "Balance"] = None
    frame.loc[4, "Geography"] = None
    loaded = load_customers(write(tmp_path / "c.csv", frame), settings)
    assert loaded["Balance"].isna().sum() == 1 and loaded["Geography"].isna().sum() == 1


def test_blank_category_counts_as_missing(settings, frame, tmp_path):
    frame.loc[4, "Gender"] = "   "
    assert load_customers(write(tmp_path / "c.csv", frame), settings)["Gender"].isna().sum() == 1


def test_duplicate_customer_id_names_the_second_occurrence(settings, frame, tmp_path):
    frame.loc[30, "CustomerId"] = frame.loc[9, "CustomerId"]
    error = refused(write(tmp_path / "c.csv", frame), settings)
    assert (error.line, error.column) == (32, "CustomerId")
    assert f"duplicate customer id {frame.loc[9, 'CustomerId']}" in str(error)


def test_empty_file_and_header_only_file_are_refused(settings, frame, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in str(refused(empty, settings))
    header_only = write(tmp_path / "header.csv", frame.iloc[:0])
    assert "no data rows" in str(refused(header_only, settings))


def test_missing_file_is_refused(settings, tmp_path):
    assert "file not found" in str(refused(tmp_path / "absent.csv", settings))


def test_chunks_cover_the_file_and_report_real_lines(settings, tmp_path):
    frame = generate(1000, seed=2)
    frame.loc[777, "Age"] = 200
    path = write(tmp_path / "c.csv", frame)
    chunks = iter_customer_chunks(path, settings, chunk_size=300)
    assert [len(next(chunks)) for _ in range(2)] == [300, 300]
    with pytest.raises(DataValidationError, match=r"line 779, column Age: 200 is not"):
        next(chunks)


def test_chunks_detect_duplicates_across_chunks(settings, tmp_path):
    frame = generate(1000, seed=2)
    frame.loc[650, "CustomerId"] = frame.loc[10, "CustomerId"]
    path = write(tmp_path / "c.csv", frame)
    with pytest.raises(DataValidationError, match=r"line 652, column CustomerId: duplicate"):
        list(iter_customer_chunks(path, settings, chunk_size=300))


def test_chunks_of_a_valid_file_add_up(settings, tmp_path):
    path = write(tmp_path / "c.csv", generate(1000, seed=2))
    assert sum(len(chunk) for chunk in iter_customer_chunks(path, settings, 300)) == 1000


TRAINED = {"Geography": ["France", "Germany", "Spain"], "Gender": ["Male", "Female"]}


def test_training_keeps_any_category_it_is_given(settings, frame, tmp_path):
    frame.loc[3, "Gender"] = "X"
    assert "X" in set(load_customers(write(tmp_path / "c.csv", frame), settings)["Gender"])


def test_scoring_spells_categories_as_trained(settings, frame, tmp_path):
    frame.loc[[1, 2, 3, 4], "Geography"] = ["france ", "GERMANY", "Portugal", "   "]
    frame.loc[5, "Gender"] = "female"
    loaded = load_customers(write(tmp_path / "c.csv", frame), settings, categories=TRAINED)
    assert loaded["Geography"].iloc[1:4].tolist() == ["France", "Germany", "Portugal"]
    assert pd.isna(loaded["Geography"].iloc[4]) and loaded["Gender"].iloc[5] == "Female"


def test_scoring_refuses_an_untrained_closed_category_naming_line_and_column(settings, frame, tmp_path):
    frame.loc[[12, 30], "Gender"] = ["X ", "Y"]
    error = refused(write(tmp_path / "c.csv", frame), settings, with_target=False, categories=TRAINED)
    assert (error.line, error.column) == (14, "Gender")
    assert str(error) == (f"{tmp_path / 'c.csv'}, line 14, column Gender: 'X' is not a category "
                          "the model was trained on (Male, Female)")
