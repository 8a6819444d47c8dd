"""Errors a user can cause and fix: entry points print them as one clear line, no traceback."""

from pathlib import Path


class ChurnError(Exception):
    """Base of every error whose message is meant for the person running the command."""


class SettingsError(ChurnError):
    """The settings file or a CHURN_* variable holds a value that cannot work."""


class DataValidationError(ChurnError):
    """A data file breaks the schema; names the file, the line and the column."""

    def __init__(self, path: Path | str, message: str, line: int | None = None,
                 column: str | None = None) -> None:
        self.path, self.line, self.column = Path(path), line, column
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")


class ModelLoadError(ChurnError):
    """A model artifact is missing, corrupted or was built with other library versions."""


class OutputError(ChurnError):
    """A file a command has to write cannot be written there: a folder or a read-only file in the
    way, or a folder that is missing or not writable. Found before the work wherever possible."""
