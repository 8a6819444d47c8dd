"""Per-request context: request id, in-flight gauge, one log line, body-size limit, crash handling.

A plain ASGI middleware rather than BaseHTTPMiddleware: it runs on every request, and the plain
form adds no extra task or stream per call. It sits inside the instrumentator, so the 413 and 500
answers it gives are counted like any other.
"""

import json
import os
import re
import time

from loguru import logger
from prometheus_client import Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
# Honour a caller's id only if it cannot smuggle anything into a log line.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
QUIET_PATHS = frozenset({"/metrics", "/health"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def json_response(status: int, body: dict, request_id: str) -> list[Message]:
    payload = json.dumps(body).encode()
    return [
        {"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
            (REQUEST_ID_HEADER, request_id.encode())]},
        {"type": "http.response.body", "body": payload},
    ]


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, active: Gauge, max_body_bytes: int) -> None:
        self.app, self.active, self.max_body_bytes = app, active, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, REQUEST_ID_HEADER)
        request_id = offered if offered and SAFE_REQUEST_ID.fullmatch(offered) else os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started, status, response_started = time.perf_counter(), 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        # A scrape is not load: counting it would make every scrape report itself in flight.
        counted = scope["path"] != "/metrics"
        if counted:
            self.active.inc()
        try:
            with logger.contextualize(request_id=request_id):
                length = _header(scope, b"content-length")
                if length and length.isdigit() and int(length) > self.max_body_bytes:
                    detail = f"request body of {length} bytes is over the limit of {self.max_body_bytes}"
                    for message in json_response(413, {"detail": detail}, request_id):
                        await send_with_id(message)
                    return
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception:
                    # Logged here, with the request id, instead of as an anonymous traceback.
                    logger.exception("unhandled error in {} {}", scope["method"], scope["path"])
                    if not response_started:
                        for message in json_response(
                                500, {"detail": "internal server error", "request_id": request_id},
                                request_id):
                            await send_with_id(message)
        finally:
            if counted:
                self.active.dec()
            if scope["path"] not in QUIET_PATHS:
                self._log(scope, state, status, started, request_id)

    @staticmethod
    def _log(scope: Scope, state: dict, status: int, started: float, request_id: str) -> None:
        route = scope["route"].path if scope.get("route") is not None else "none"
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        # Set by the prediction routes; never the request body.
        details = {key: state[key] for key in ("customer_id", "risk_level") if key in state}
        suffix = "".join(f" {key}={value}" for key, value in details.items())
        logger.bind(method=scope["method"], route=route, status=status, duration_ms=duration_ms,
                    request_id=request_id, **details).info(
            f"{scope['method']} {route} {status} {duration_ms} ms{suffix}")
