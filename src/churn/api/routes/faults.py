"""/admin/faults: the demo fault switch (churn.api.faults), behind the admin token."""

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from churn.api.errors import public
from churn.api.faults import Fault
from churn.api.routes.admin import require_admin
from churn.api.schemas import problems
from churn.api.state import api_state
from churn.errors import ChurnError

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)])
MAX_LATENCY_SECONDS = 30
MAX_MINUTES = 60


class FaultChange(BaseModel):
    """Kinds left out stay as they are; 0 turns one off."""

    model_config = ConfigDict(extra="forbid")
    error_share: float | None = Field(None, ge=0, le=1, description="share of /churn and /predict "
                                      "requests answered 500, 0 to 1")
    latency_seconds: float | None = Field(None, ge=0, le=MAX_LATENCY_SECONDS,
                                          description="seconds added to each of those requests")
    minutes: float = Field(10, gt=0, le=MAX_MINUTES,
                           description="after this the faults set here end by themselves")


class FaultState(BaseModel):
    kind: str
    value: float
    ends_at: datetime
    seconds_left: float


class Faults(BaseModel):
    faults: list[FaultState] = Field(description="the faults in force; empty when none")


def _view(faults: dict[str, Fault]) -> Faults:
    now = datetime.now(UTC)
    return Faults(faults=[
        FaultState(kind=kind, value=fault.value, ends_at=datetime.fromtimestamp(fault.until, UTC),
                   seconds_left=round(max(fault.until - now.timestamp(), 0), 1))
        for kind, fault in sorted(faults.items())])


@router.get("/admin/faults", summary="The demo faults in force", responses=problems(401))
async def show(request: Request) -> Faults:
    return _view(api_state(request).faults.active())


def _saved(change: Callable[[], dict[str, Fault]]) -> Faults:
    """The faults after `change`; a 503 naming the reason when they cannot be saved for the
    other processes (the logs folder not writable)."""
    try:
        return _view(change())
    except ChurnError as exc:
        logger.error("demo faults not changed: {}", exc)
        raise HTTPException(503, f"demo faults not changed: {public(str(exc))}") from None


@router.post("/admin/faults", summary="Switch demo faults on or off",
             responses=problems(401, 422, 503))
async def change(request: Request, body: FaultChange) -> Faults:
    changes = {kind: value for kind, value in (("errors", body.error_share),
                                                 ("latency", body.latency_seconds))
               if value is not None}
    return _saved(lambda: api_state(request).faults.set(changes, body.minutes * 60))


@router.delete("/admin/faults", summary="Switch every demo fault off", responses=problems(401, 503))
async def clear(request: Request) -> Faults:
    return _saved(api_state(request).faults.clear)
