"""Dependencies the routes declare: the settings, metrics and service of the app serving them."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from churn.api.service import Service
from churn.metrics import ApiMetrics
from churn.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics


def get_service(request: Request) -> Service:
    service = request.app.state.service
    if service is None:
        raise HTTPException(503, f"not ready: {request.app.state.unready_reason}")
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
ServiceDep = Annotated[Service, Depends(get_service)]
