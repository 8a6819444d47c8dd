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
        ("Age", 7, "forty", "not a number"),
        ("Age", 3, -4, "-4 is not a number from 18 to 120"),
        ("CreditScore", 10, 950, "950 is not a number from 300 to 900"),
        ("CreditScore", 0, 120, "120 is not a number from 300 to 900"),
        ("Exited", 20, 2, "2 is not one of 0, 1"),
        ("IsActiveMember", 4, 0.5, "0.5 is not one of 0, 1"),
        ("NumOfProducts", 5, 1.5, "1.5 is not a whole number from 1 to 10"),
        ("Balance", 8, -10, "-10 is not a number of at least 0"),
        ("CustomerId", 12, None, "value is missing"),
        ("CustomerId", 2, "abc", "not a number"),
        ("Balance", 3, "inf", "inf is not a finite number"),
        ("Balance", 9, "Infinity", "inf is not a finite number"),
        ("EstimatedSalary", 4, "-inf", "-inf is not a finite number"),
        ("EstimatedSalary", 11, "1e309", "inf is not a finite number"),
        ("CreditScore", 6, "-Infinity", "-inf is not a finite number"),
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


def test_infinity_is_refused_by_the_chunked_reader_too(settings, tmp_path):
    frame = generate(1000, seed=2)
    frame["EstimatedSalary"] = frame["EstimatedSalary"].astype(object)
    frame.loc[777, "EstimatedSalary"] = "Infinity"
    path = write(tmp_path / "c.csv", frame)
    with pytest.raises(DataValidationError,
                       match=r"line 779, column EstimatedSalary: inf is not a finite number$"):
        list(iter_customer_chunks(path, settings, chunk_size=300))


def test_nan_text_is_a_missing_value(settings, frame, tmp_path):
    frame["Balance"] = frame["Balance"].astype(object)
    frame.loc[3, "Balance"] = "nan"
    assert load_customers(write(tmp_path / "c.csv", frame), settings)["Balance"].isna().sum() >= 1


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
    assert str(error) == (f"{tmp_path / 'c.csv'}, line 14, column Gender: not a category "
                          "the model was trained on (Male, Female)")


# Every surname of the file is this one: no message may contain it, whatever breaks the file.
SURNAME = "Zyxwvutsrq"


def lines_with_one_surname(frame: pd.DataFrame) -> list[str]:
    return frame.assign(Surname=SURNAME).to_csv(index=False).splitlines()


def without_header(lines: list[str]) -> list[str]:
    return lines[1:]


def with_a_field_missing(lines: list[str]) -> list[str]:
    """Row 5 lost its RowNumber: every value moves one column left, Surname into CustomerId."""
    return [*lines[:6], lines[6].split(",", 1)[1], *lines[7:]]


def with_surnames_under_gender(lines: list[str]) -> list[str]:
    """Surname and Gender columns swapped in the header only."""
    header = lines[0].split(",")
    first, second = header.index("Surname"), header.index("Gender")
    header[first], header[second] = header[second], header[first]
    return [",".join(header), *lines[1:]]


@pytest.mark.parametrize("damage", [without_header, with_a_field_missing, with_surnames_under_gender])
@pytest.mark.parametrize("reader", ["whole", "chunks"])
def test_no_message_echoes_a_surname(settings, frame, tmp_path, damage, reader):
    path = tmp_path / "c.csv"
    path.write_text("\n".join(damage(lines_with_one_surname(frame))) + "\n")
    with pytest.raises(DataValidationError) as caught:
        if reader == "whole":
            load_customers(path, settings, with_target=False, categories=TRAINED)
        else:
            list(iter_customer_chunks(path, settings, 20, categories=TRAINED))
    assert SURNAME not in str(caught.value)
    assert caught.value.line is not None and caught.value.column is not None


def test_a_missing_header_is_named_as_such_without_listing_the_first_row(settings, frame, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("\n".join(without_header(frame.to_csv(index=False).splitlines())) + "\n")
    error = refused(path, settings)
    assert (error.line, error.column) == (1, "CustomerId")
    assert "no known column names: is the header row missing, or the file not comma-separated?" in (
        str(error))
    assert str(frame.loc[0, "CustomerId"]) not in str(error)


def test_a_real_header_with_a_column_missing_is_listed(settings, frame, tmp_path):
    error = refused(write(tmp_path / "c.csv", frame.rename(columns={"Age": "Agee"})), settings)
    assert "required column missing (the header has " in str(error) and "Agee" in str(error)


def test_header_only_file_is_refused_before_any_chunk(settings, frame, tmp_path):
    path = write(tmp_path / "c.csv", frame.iloc[:0])
    with pytest.raises(DataValidationError, match="no data rows below the header"):
        next(iter_customer_chunks(path, settings, 20))


@pytest.mark.parametrize("reader", ["whole", "chunks"])
@pytest.mark.parametrize("row", [3, 700])
def test_bytes_that_are_not_utf8_name_line_and_column(settings, tmp_path, reader, row):
    lines = lines_with_one_surname(generate(1000, seed=2))
    fields = lines[row + 1].split(",")
    fields[2] = SURNAME + "\xe9"  # Latin-1, as a spreadsheet may save it
    data = "\n".join(lines[:row + 1]).encode() + b"\n" + ",".join(fields).encode("latin-1")
    path = tmp_path / "c.csv"
    path.write_bytes(data + b"\n" + "\n".join(lines[row + 2:]).encode() + b"\n")
    with pytest.raises(DataValidationError) as caught:
        if reader == "whole":
            load_customers(path, settings)
        else:
            list(iter_customer_chunks(path, settings, 300))
    assert str(caught.value) == (f"{path}, line {row + 2}, column Surname: not UTF-8 text "
                                 "(save the file with UTF-8 encoding)")
