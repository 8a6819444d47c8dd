"""An offline Alertmanager webhook receiver: every notification becomes one line of logs/alerts.jsonl.

Run it with `python -m churn.ops.alert_receiver` (port 9095). Bodies that are not Alertmanager's
webhook format are refused with 400 and nothing is written. It also serves the alert runbooks at
/runbooks/<name>, so every alert's runbook_url opens offline while the stack runs.
"""

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from loguru import logger
from pydantic import BaseModel

from churn.cli import port_number, run_job
from churn.logs import write_record
from churn.settings import Settings

ALERTS = "alerts"  # logs/alerts.jsonl, through the sink churn.logs.setup adds for this component


class Alert(BaseModel):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    fingerprint: str = ""


class Notification(BaseModel):
    """Alertmanager's webhook payload, version 4."""

    version: str
    groupKey: str
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str
    alerts: list[Alert]


def create_receiver_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="churn-monitoring alert receiver")

    @app.exception_handler(RequestValidationError)
    async def not_a_notification(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(part) for part in error["loc"][1:]) or "body"
                           for error in exc.errors())
        return JSONResponse(status_code=400, content={
            "detail": f"not an Alertmanager webhook notification (problem with: {fields})"})

    @app.post("/alerts")
    def receive(notification: Notification) -> dict[str, int]:
        received = {"received_at": datetime.now(UTC).isoformat(timespec="milliseconds")}
        write_record(ALERTS, received | notification.model_dump())
        for alert in notification.alerts:
            logger.info("{} {} ({}) via {}", alert.status, alert.labels.get("alertname", "?"),
                        alert.labels.get("severity", "?"), notification.receiver)
        return {"alerts": len(notification.alerts)}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    def runbooks() -> dict[str, Path]:
        # Read on every request: a runbook edited while the stack runs shows at once.
        return {page.stem: page for page in sorted(settings.runbooks_dir.glob("*.md"))}

    # Plain text, which every browser shows as it is; the pages are Markdown written to be read raw.
    @app.get("/runbooks/", response_class=PlainTextResponse)
    def runbook_index() -> str:
        return "Runbooks of churn-monitoring:\n" + "".join(
            f"  /runbooks/{name}\n" for name in runbooks())

    @app.get("/runbooks/{name}", response_class=PlainTextResponse)
    def runbook(name: str) -> str:
        page = runbooks().get(name.removesuffix(".md"))
        if page is None:
            raise HTTPException(status_code=404, detail="no such runbook; /runbooks/ lists them")
        return page.read_text(encoding="utf-8")

    return app


def serve(settings: Settings, host: str, port: int) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(create_receiver_app(settings), host=host, port=port, access_log=False,
                log_config=None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=9095, help="port to listen on (default 9095)")
    args = parser.parse_args()
    return run_job("alerts", lambda settings: serve(settings, args.host, args.port))


if __name__ == "__main__":
    sys.exit(main())
