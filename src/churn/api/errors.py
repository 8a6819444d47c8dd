"""Error responses: always JSON, always naming what was wrong, never a stack trace."""

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:,;'\"()]+/)*([^\s/:,;'\"()]+)")


def public(message: str) -> str:
    """`message` for a client: each absolute path cut to its file name. The server's folders are
    not the caller's business; the full message goes to the log."""
    return ABSOLUTE_PATH.sub(r"\1", message)


def _field(location: tuple) -> str:
    # ("body", "customers", 3, "Age") -> "customers[3].Age"; ("path", "customer_id") -> "customer_id"
    parts = [part for part in location if part not in ("body", "path", "query")]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "body"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The values sent are not echoed back: they may hold personal data.
    errors = [{"field": _field(tuple(error["loc"])), "message": error["msg"]} for error in exc.errors()]
    summary = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
    return JSONResponse(status_code=422, content={"detail": f"invalid request: {summary}",
                                                  "errors": errors})


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail},
                        headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
