"""Per-request context: request id, in-flight gauge, one log line, body-size limit, crash handling.

A plain ASGI middleware rather than BaseHTTPMiddleware: it runs on every request, and the plain
form adds no extra task or stream per call. It sits inside the instrumentator, so the 413 and 500
answers it gives are counted like any other.
"""

import asyncio
import json
import random
import re
import time

from loguru import logger
from prometheus_client import Gauge
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
# Honour a caller's id only if it cannot smuggle anything into a log line.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The stack watching itself, not traffic, decided here for the whole app: a scrape is neither
# counted (in flight, or by the instrumentator) nor logged, and a liveness probe is not logged.
SCRAPE_PATH = "/metrics"
QUIET_PATHS = frozenset({SCRAPE_PATH, "/health"})


# The only request headers read here, collected in one pass over the list.
READ_HEADERS = frozenset({REQUEST_ID_HEADER, b"content-length", b"transfer-encoding"})


def read_headers(scope: Scope) -> dict[bytes, str]:
    return {key: value.decode("latin-1") for key, value in scope["headers"] if key in READ_HEADERS}


def request_id_of(headers: dict[bytes, str]) -> str:
    """The caller's X-Request-ID if it is safe to log, else a new random one (unique, not secret:
    the random module's generator, not a system call per request)."""
    offered = headers.get(REQUEST_ID_HEADER)
    return offered if offered and SAFE_REQUEST_ID.fullmatch(offered) else f"{random.getrandbits(128):032x}"


def body_over_limit(headers: dict[bytes, str], max_body_bytes: int) -> str | None:
    """Why the request is refused for its declared size, or None."""
    length = headers.get(b"content-length")
    if length and length.isdigit() and int(length) > max_body_bytes:
        return f"request body of {length} bytes is over the limit of {max_body_bytes}"
    return None


def limited(receive: Receive, max_body_bytes: int, body_seconds: float) -> Receive:
    """`receive` that counts body bytes as they arrive and refuses the request (413) as soon as
    they pass the limit: a chunked body declares no length, and must not be read whole first.
    A body not complete `body_seconds` after the request began is refused (408): a client that
    stops half-way must not hold a connection and a request slot for ever."""
    received, complete = 0, False
    deadline = asyncio.get_running_loop().time() + body_seconds

    async def receive_within_limit() -> Message:
        nonlocal received, complete
        if complete:  # the body is in; later calls only wait for a disconnect
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(408, f"request body not complete within {body_seconds:g} s") from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if received > max_body_bytes:
                raise HTTPException(413, f"request body is over the limit of {max_body_bytes} bytes")
        return message

    return receive_within_limit


async def respond(send: Send, status: int, body: dict) -> None:
    """A JSON answer from the middleware itself; `send` adds the request id like to any other."""
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Gives every request an id (X-Request-ID, and the log context), counts it in flight, refuses
    a body too large or too slow, turns a crash into a JSON 500, and logs one line when it ends."""

    def __init__(self, app: ASGIApp, active: Gauge, max_body_bytes: int, body_seconds: float) -> None:
        self.app, self.active = app, active
        self.max_body_bytes, self.body_seconds = max_body_bytes, body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = read_headers(scope)
        request_id = request_id_of(headers)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started, status, response_started = time.perf_counter(), 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        # HTTP wants HEAD wherever GET is served, and FastAPI routes list GET alone: a HEAD request
        # is routed as its GET (uvicorn sends no body for it), and counted and logged as HEAD.
        routed = scope | {"method": "GET"} if scope["method"] == "HEAD" else scope
        counted = scope["path"] != SCRAPE_PATH
        if counted:
            self.active.inc()
        try:
            with logger.contextualize(request_id=request_id):
                if detail := body_over_limit(headers, self.max_body_bytes):
                    await respond(send_with_id, 413, {"detail": detail})
                    return
                # HTTP/1.1 has a request body only when one of these headers announces it.
                if b"content-length" in headers or b"transfer-encoding" in headers:
                    receive = limited(receive, self.max_body_bytes, self.body_seconds)
                try:
                    await self.app(routed, receive, send_with_id)
                except Exception:
                    # Logged here, with the request id, instead of as an anonymous traceback.
                    logger.exception("unhandled error in {} {}", scope["method"], scope["path"])
                    if not response_started:
                        await respond(send_with_id, 500, {"detail": "internal server error",
                                                          "request_id": request_id})
        finally:
            if counted:
                self.active.dec()
            if scope["path"] not in QUIET_PATHS:
                self._log(scope["method"], routed, status, started, request_id)

    @staticmethod
    def _log(method: str, scope: Scope, status: int, started: float, request_id: str) -> None:
        state = scope["state"]
        route = scope["route"].path if scope.get("route") is not None else "none"
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        # Set by the prediction routes and the demo fault switch; never the request body.
        details = {key: state[key] for key in ("customer_id", "risk_level", "fault") if key in state}
        suffix = "".join(f" {key}={value}" for key, value in details.items())
        logger.bind(method=method, route=route, status=status, duration_ms=duration_ms,
                    request_id=request_id, **details).info(
            f"{method} {route} {status} {duration_ms} ms{suffix}")
