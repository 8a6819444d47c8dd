"""Reads customers files and refuses any that break the schema, naming file, line and column.

Only the id, the configured features and (for training) the target are kept: Surname and any
other column are dropped as soon as a file is read, so personal data never travels further.
Messages never quote a text cell either: in a file with a missing header or a shifted row any
cell may hold a surname, so they name the line and column and say what was expected. Numbers
are quoted (an out-of-range age is not personal).
"""

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.schema import (
    CLOSED_CATEGORIES,
    MAX_CATEGORY_LENGTH,
    NUMERIC_RULES,
    NumericRule,
    category_spellings,
    normalise_category,
)
from churn.errors import DataValidationError
from churn.settings import Settings

HEADER_LINES = 1
# Columns of the public schema that are never features: a header naming them is a real header.
KNOWN_OTHER_COLUMNS = ("RowNumber", "Surname")


def _columns(settings: Settings, with_target: bool) -> list[str]:
    return [settings.id_column, *settings.features, *([settings.target_column] if with_target else [])]


def _line_of(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> tuple[int, int]:
    """File line (1 = header) and position of the first row where `mask` holds."""
    position = int(np.argmax(np.asarray(mask)))
    return int(frame.index[position]) + HEADER_LINES + 1, position


def _check_numeric(frame: pd.DataFrame, column: str, rule: NumericRule, required: bool,
                   path: Path) -> None:
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            line, _ = _line_of(frame, bad)
            raise DataValidationError(path, "not a number", line=line, column=column)
        frame[column] = values = numbers
    # inf, Infinity and 1e309 parse as floats, yet no rule or model can use them.
    infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
    if infinite.any():
        line, position = _line_of(frame, infinite)
        raise DataValidationError(path, f"{values.iloc[position]:g} is not a finite number",
                                  line=line, column=column)
    missing = values.isna()
    if required and missing.any():
        line, _ = _line_of(frame, missing)
        raise DataValidationError(path, "value is missing", line=line, column=column)
    present = values[~missing]
    wrong = pd.Series(False, index=present.index)
    if rule.allowed is not None:
        wrong |= ~present.isin(rule.allowed)
    if rule.integer:
        wrong |= present != np.floor(present)
    if rule.low is not None:
        wrong |= present < rule.low
    if rule.high is not None:
        wrong |= present > rule.high
    if wrong.any():
        line, position = _line_of(present.to_frame(), wrong)
        raise DataValidationError(
            path, f"{present.iloc[position]:g} is not {rule.describe()}", line=line, column=column)


def _check_text(frame: pd.DataFrame, column: str, path: Path, known: list[str] | None) -> None:
    """Strips the values; given the trained categories `known`, spells them as trained and, in a
    closed column, refuses any other value."""
    values = frame[column]
    # Categories repeat: checking the few distinct values is what keeps 1M-row files fast.
    distinct = pd.Series(values.dropna().unique(), dtype=object)
    too_long = distinct[distinct.str.len() > MAX_CATEGORY_LENGTH]
    if not too_long.empty:
        line, _ = _line_of(frame, values == too_long.iloc[0])
        raise DataValidationError(
            path, f"text longer than {MAX_CATEGORY_LENGTH} characters", line=line, column=column)
    spellings = category_spellings(known or ())
    cleaned = pd.Series([normalise_category(value, spellings) for value in distinct], dtype=object)
    if known is not None and column in CLOSED_CATEGORIES:
        # unique() keeps the order of first appearance: the first unknown value is the first bad row.
        unknown = distinct[~cleaned.isin([*known, ""])]
        if not unknown.empty:
            line, _ = _line_of(frame, values == unknown.iloc[0])
            raise DataValidationError(
                path, f"not a category the model was trained on ({', '.join(known)})",
                line=line, column=column)
    if not cleaned.equals(distinct) or (cleaned == "").any():
        frame[column] = values.map(dict(zip(distinct, cleaned.replace("", np.nan), strict=True)))


def validate(frame: pd.DataFrame, settings: Settings, path: Path, with_target: bool,
             categories: Mapping[str, list[str]] | None = None) -> pd.DataFrame:
    """The schema-checked columns the model needs; raises DataValidationError on the first problem.

    `frame`'s index must be the 0-based data row number in the file, so errors cite real lines.
    `categories` are a model's trained categories of each categorical feature, given when scoring
    (see _check_text); training gives none, since its data is what defines them.
    """
    columns = _columns(settings, with_target)
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        known = {*columns, settings.target_column, *KNOWN_OTHER_COLUMNS}
        if not known & set(frame.columns):
            # The first line is data (names, ids) read as a header: it is not repeated.
            raise DataValidationError(
                path, "the first line has no known column names: is the header row missing, or the "
                      f"file not comma-separated? (expected {', '.join(columns)})",
                line=1, column=absent[0])
        raise DataValidationError(
            path, f"required column missing (the header has {', '.join(map(str, frame.columns))})",
            line=1, column=absent[0])
    frame = frame[columns].copy()
    checks = [(settings.id_column, True), (settings.target_column, True)] if with_target else [
        (settings.id_column, True)]
    checks += [(feature, False) for feature in settings.numeric_features]
    for column, required in checks:
        _check_numeric(frame, column, NUMERIC_RULES.get(column, NumericRule()), required, path)
    for column in settings.categorical_features:
        _check_text(frame, column, path, (categories or {}).get(column))

    duplicated = frame[settings.id_column].duplicated()
    if duplicated.any():
        line, position = _line_of(frame, duplicated)
        customer = int(frame[settings.id_column].iloc[position])
        raise DataValidationError(
            path, f"duplicate customer id {customer}", line=line, column=settings.id_column)
    frame[settings.id_column] = frame[settings.id_column].astype("int64")
    if with_target:
        frame[settings.target_column] = frame[settings.target_column].astype("int8")
    return frame


def _not_utf8(path: Path) -> DataValidationError:
    """The line and column of the first bytes that are not UTF-8 (pandas names neither)."""
    header: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                # The fields before the bad byte, parsed as CSV so quoted commas count right.
                before = next(csv.reader([raw[:exc.start].decode("latin-1")]), [""])
                column = header[len(before) - 1] if 0 < len(before) <= len(header) else None
                return DataValidationError(path, "not UTF-8 text (save the file with UTF-8 "
                                                 "encoding)", line=number, column=column)
            if number == HEADER_LINES:
                header = [name.strip() for name in next(csv.reader([text]), [])]
    return DataValidationError(path, "not UTF-8 text (save the file with UTF-8 encoding)")


def _unreadable(path: Path, exc: Exception) -> DataValidationError:
    """One clear error for a file pandas cannot parse; its messages name lines, never values."""
    if isinstance(exc, UnicodeDecodeError):
        return _not_utf8(path)
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataValidationError(path, "the file is empty (no header, no rows)")
    if isinstance(exc, OSError):
        return DataValidationError(path, f"cannot be read ({exc.strerror})")
    return DataValidationError(path, f"not a readable CSV file: {exc}")


READ_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError)


def _reader(path: Path, settings: Settings, chunk_size: int | None):
    if not path.is_file():
        raise DataValidationError(path, "file not found")
    dtypes = {column: str for column in settings.categorical_features}
    try:
        return pd.read_csv(path, dtype=dtypes, chunksize=chunk_size, skipinitialspace=True)
    except READ_ERRORS as exc:
        raise _unreadable(path, exc) from None


def load_customers(path: Path, settings: Settings, with_target: bool = True,
                   categories: Mapping[str, list[str]] | None = None) -> pd.DataFrame:
    """The whole file, validated: id, features and (with_target) the target column."""
    frame = _reader(path, settings, chunk_size=None)
    if frame.empty:
        raise DataValidationError(path, "no data rows below the header")
    return validate(frame, settings, path, with_target, categories)


def _refuse_repeated_ids(path: Path, ids: np.ndarray, column: str) -> None:
    """The first id (in file order) that appeared before; `ids` is every data row's, in order."""
    ordered = np.sort(ids)
    if not (ordered[1:] == ordered[:-1]).any():
        return
    order = np.argsort(ids, kind="stable")  # the rare case: where the repeats are
    repeats = order[1:][ids[order[1:]] == ids[order[:-1]]]
    position = int(repeats.min())
    raise DataValidationError(path, f"duplicate customer id {ids[position]}",
                              line=position + HEADER_LINES + 1, column=column)


def iter_customer_chunks(path: Path, settings: Settings, chunk_size: int,
                         categories: Mapping[str, list[str]] | None = None) -> Iterator[pd.DataFrame]:
    """Validated chunks of at most `chunk_size` rows; ids must be unique across the whole file.

    `categories`: as in validate, when the chunks are to be scored by a model. An id repeated
    across chunks is found when the last chunk has been read (one sort, not a search per chunk,
    which took minutes at 10M rows): a consumer writing output must treat the whole run as failed,
    as predict_batch's atomic write does.
    """
    seen: list[np.ndarray] = []
    try:
        for chunk in _reader(path, settings, chunk_size):
            chunk = validate(chunk, settings, path, with_target=False, categories=categories)
            if chunk.empty:  # pandas yields one empty chunk for a header-only file
                continue
            seen.append(chunk[settings.id_column].to_numpy())
            yield chunk
    except READ_ERRORS as exc:
        raise _unreadable(path, exc) from None
    if not seen:
        raise DataValidationError(path, "no data rows below the header")
    _refuse_repeated_ids(path, np.concatenate(seen), settings.id_column)
