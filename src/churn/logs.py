"""The one place loguru is configured: a console sink and logs/<component>.log per entry point,
and the JSON-lines files that other tools read (logs/<name>.jsonl), rotated like every log.

The standard library's loggers (uvicorn's among them) are routed into loguru, so every line of
a process lands in the same file in the same format, exactly once.

Several processes write the same files: the API's workers, two instances started from one
checkout. loguru's own file sink rotates per process (one renames the file under the others,
whose lines then go missing), so the files are written through concurrent-log-handler, which
takes a file lock for each write and rotates under it. loguru still formats and filters. A lock
per line cost the API more than anything else it does per request, so lines are gathered and
written together every log_flush_seconds: one lock for all of them.
"""

import inspect
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from concurrent_log_handler import ConcurrentRotatingFileHandler
from loguru import logger

from churn.errors import OutputError
from churn.files import check_writable
from churn.settings import Settings

CONSOLE_FORMAT = "<green>{time:HH:mm:ss}</green> | <level>{level: <8}</level> | {message}"
FILE_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {extra[component]} | {extra[request_id]} | "
    "{name}:{function}:{line} | {message}"
)
NO_REQUEST = "-"
# Tracebacks without loguru's display of each frame's variables (diagnose), which would print
# request bodies and customers into the logs, nor the frames above the catching one (backtrace).
TRACEBACKS = {"diagnose": False, "backtrace": False}
# JSON-lines files each component writes with `write_record`, read by other tools: the API's
# sampled inputs (scripts/drift_report.py) and the alert receiver's notifications (people, tests).
RECORDS = {"api": ("input_samples",), "alerts": ("alerts",)}


class InterceptHandler(logging.Handler):
    """Hands standard-library records to loguru, keeping the caller's module and line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def _json_line(record: Any) -> str:
    extra = dict(record["extra"])
    if extra.get("request_id") == NO_REQUEST:
        del extra["request_id"]
    payload = {
        "time": record["time"].isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "component": extra.pop("component", None),
        "module": record["name"],
        "function": record["function"],
        "line": record["line"],
        "message": record["message"],
    } | extra
    if record["exception"] is not None:
        payload["exception"] = repr(record["exception"].value)
    # Stashed in the record because loguru formats the returned template again.
    record["extra"]["_json"] = json.dumps(payload, default=str)
    return "{extra[_json]}\n"


def _record_line(record: Any) -> str:
    record["extra"]["_json"] = json.dumps(record["extra"]["payload"], default=str)
    return "{extra[_json]}\n"


def write_record(name: str, payload: dict) -> None:
    """Appends `payload` as one JSON line to logs/<name>.jsonl (a sink of `setup`)."""
    logger.bind(record=name, payload=payload).info("record")


def _not_a_record(record: Any) -> bool:
    return "record" not in record["extra"]


class _Formatted(logging.Formatter):
    """loguru has already formatted the line, traceback included; the handler adds the line end."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage().rstrip("\n")


class GatheredLines:
    """A loguru sink that appends its lines to a shared file in one locked write every `seconds`
    (0: each line at once). A background thread writes them; loguru stops the sink when the
    process exits (or `setup` runs again), which writes what is left. A process killed outright
    loses at most the last `seconds` of lines."""

    def __init__(self, handler: ConcurrentRotatingFileHandler, seconds: float) -> None:
        self.handler, self.seconds = handler, seconds
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._writer = threading.Thread(target=self._write_every_interval, name="log-writer",
                                        daemon=True)
        if seconds:
            self._writer.start()

    def write(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
        if not self.seconds:
            self._write_gathered()

    def stop(self) -> None:
        self._stopping.set()
        if self._writer.is_alive():
            self._writer.join()
        self._write_gathered()
        self.handler.close()

    def _write_every_interval(self) -> None:
        while not self._stopping.wait(self.seconds):
            self._write_gathered()

    def _write_gathered(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self.handler.handle(logging.makeLogRecord({"msg": "".join(lines)}))


def _shared_file(path: Path, settings: Settings) -> GatheredLines:
    """A file any number of processes append to, rotated at log_rotation bytes, log_backups kept."""
    handler = ConcurrentRotatingFileHandler(str(path), maxBytes=settings.log_rotation,
                                            backupCount=settings.log_backups, encoding="utf-8")
    handler.setFormatter(_Formatted())
    return GatheredLines(handler, settings.log_flush_seconds)


def setup(component: str, settings: Settings) -> None:
    """Sends this process's logs to stderr and to logs_dir/<component>.log; call once per process.

    Raises OutputError, before anything changes, when a file it would write cannot be written.
    """
    files = [settings.logs_dir / f"{component}.log"]
    files += [settings.logs_dir / f"{name}.jsonl" for name in RECORDS.get(component, ())]
    for path in files:
        check_writable(path)
    try:
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the logs folder {settings.logs_dir}: {exc.strerror}") from None
    logger.remove()
    # Lines outside a request show "-" where request lines show their X-Request-ID.
    logger.configure(extra={"component": component, "request_id": NO_REQUEST})
    # One line per API request goes to the file only: under a load test the console would
    # scroll thousands a second, hiding the warnings and errors a person watches it for.
    logger.add(sys.stderr, level=settings.log_level, format=CONSOLE_FORMAT, **TRACEBACKS,
               filter=lambda record: "route" not in record["extra"] and _not_a_record(record))
    logger.add(_shared_file(files[0], settings), level=settings.log_level,
               format=_json_line if settings.log_json else FILE_FORMAT, filter=_not_a_record,
               **TRACEBACKS)
    for name, path in zip(RECORDS.get(component, ()), files[1:], strict=True):
        # Every record whatever log_level says; the file appears with its first line.
        logger.add(_shared_file(path, settings), level=0, format=_record_line,
                   filter=lambda record, name=name: record["extra"].get("record") == name)
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    # uvicorn configures its own handlers; emptying them and letting records propagate to the
    # root handler above is what keeps each line from being written twice.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    # The API writes its own line per request, with route, request id and prediction.
    logging.getLogger("uvicorn.access").disabled = True
