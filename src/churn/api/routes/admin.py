"""Reloading the latest model and predictions without a restart; guarded by a bearer token,
like every /admin route (require_admin)."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from loguru import logger
from starlette.concurrency import run_in_threadpool

from churn.api.errors import public
from churn.api.schemas import ReloadResult, problems
from churn.api.service import load_service
from churn.api.state import api_state
from churn.errors import ChurnError

# Reads "Authorization: Bearer <token>", the scheme in any case (RFC 9110); None when absent.
BEARER = HTTPBearer(auto_error=False, description="the admin_token setting")


async def require_admin(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
    """A dependency of every /admin route: 401 unless the admin token was sent."""
    expected = api_state(request).settings.admin_token.get_secret_value()
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(),
                                                         expected.encode()):
        raise HTTPException(401, "missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)])


@router.post("/admin/reload", summary="Load the latest model and predictions",
             responses=problems(401, 409))
async def reload(request: Request) -> ReloadResult:
    """Requests in flight finish on the old model; a failed reload keeps the old one serving."""
    api = api_state(request)
    previous_version = api.service.version if api.service else None
    try:
        service = await run_in_threadpool(load_service, api.settings)
    except ChurnError as exc:
        logger.error("reload failed, still serving {}: {}", previous_version, exc)
        # 409, not 5xx: the service is healthy and still serving; what it was asked to load
        # conflicts with what is on disk, and the caller can fix that and ask again.
        raise HTTPException(409, f"reload failed, still serving model {previous_version}: "
                                 f"{public(str(exc))}") from None
    api.serve(service)
    request.app.openapi_schema = None  # rebuilt on next use, with the request bodies of this model
    logger.info("reloaded: model {} -> {}", previous_version, service.version)
    return ReloadResult(model_version=service.version, previous_version=previous_version,
                        predictions_loaded=len(service.store))
