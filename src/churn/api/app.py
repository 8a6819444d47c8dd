"""App factory of the churn API: routes, instrumentation on the app's own registry, model loading.

uvicorn builds it with `uvicorn churn.api.app:create_app --factory`; tests call create_app with
their own settings and registry, so two apps in one process never share a series.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from loguru import logger
from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_fastapi_instrumentator import Instrumentator

from churn import logs
from churn.api import errors
from churn.api.errors import public
from churn.api.faults import FILE_NAME as FAULTS_FILE
from churn.api.faults import FaultSwitch
from churn.api.middleware import SCRAPE_PATH, RequestContextMiddleware
from churn.api.routes import admin, faults, predictions, status
from churn.api.schemas import UNKNOWN_BODIES
from churn.api.service import Service, load_service
from churn.api.state import ApiState, api_state
from churn.errors import ChurnError
from churn.metrics import ApiMetrics
from churn.settings import Settings, get_settings


async def inject_faults(request: Request) -> None:
    await api_state(request).faults.inject(request)


@asynccontextmanager
async def _fault_switch(api: ApiState, on: bool) -> AsyncIterator[None]:
    """The demo fault switch and its watcher, for as long as the app runs, when it is on."""
    if not on:
        if api.settings.demo_faults:
            logger.warning("demo_faults is true but there is no admin token: no fault switch")
        yield
        return
    api.faults = FaultSwitch(api.settings.logs_dir / FAULTS_FILE, api.metrics.fault_injected)
    logger.warning("demo fault switch on: POST /admin/faults injects errors and latency")
    watcher = asyncio.create_task(api.faults.watch())
    try:
        yield
    finally:
        watcher.cancel()


def exposed_registry(registry: CollectorRegistry) -> CollectorRegistry:
    """What /metrics shows: this process's registry, or under several workers the sum of every
    worker's files (prometheus-client's multiprocess mode, which keeps no exemplars)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return registry
    summed = CollectorRegistry()
    MultiProcessCollector(summed)
    return summed


def create_app(settings: Settings | None = None, registry: CollectorRegistry | None = None,
               preloaded: Service | None = None) -> FastAPI:
    """`preloaded`: a service loaded already (serve.py's check before listening), not loaded again."""
    settings = settings or get_settings()
    # *_created samples double every counter on /metrics and no query here uses them.
    disable_created_metrics()
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics.create(registry)
    exposed = exposed_registry(registry)
    # Summed from the workers' files, the exposed registry has no exemplars to show.
    api = ApiState(settings=settings, metrics=metrics, exposed=exposed, exemplars=exposed is registry)
    admin_on = bool(settings.admin_token.get_secret_value())
    faults_on = settings.demo_faults and admin_on

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal preloaded
        logs.setup("api", settings)
        if not api.exemplars:
            logger.warning("several workers: no exemplars (prometheus-client's multiprocess mode "
                           "keeps none); one worker per process keeps them")
        try:
            service = preloaded or load_service(settings)
        except ChurnError as exc:
            if not settings.api_start_unready:
                logger.error("cannot start: {}", exc)
                raise
            api.unready_reason = public(str(exc))
            logger.warning("started but not ready: {}", exc)
        else:
            api.serve(service)
            app.openapi_schema = None  # in case it was asked for before: now it can name the features
            logger.info("churn API ready for requests")
        # From here the service is api.service alone, which a reload can then free.
        preloaded = service = None
        async with _fault_switch(api, faults_on):
            yield
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            # This worker's live gauges must stop counting towards the sum.
            mark_process_dead(os.getpid())
        logger.info("churn API stopped")

    app = FastAPI(
        title="churn-monitoring API",
        description="Churn risk of bank customers, instrumented for Prometheus.",
        lifespan=lifespan,
    )
    app.state.api = api
    errors.install(app)
    routers = [predictions.router, status.router]
    routers += [admin.router] if admin_on else []
    routers += [faults.router] if faults_on else []
    for router in routers:
        # Faults are injected through a dependency only when the switch exists: no cost otherwise.
        injected = [Depends(inject_faults)] if faults_on and router is predictions.router else []
        app.include_router(router, dependencies=injected)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's schema plus the request bodies of the served model, which the routes validate
        by hand; built on first use, again after a reload (admin.py clears it)."""
        if app.openapi_schema is None:
            default_openapi().setdefault("components", {}).setdefault("schemas", {}).update(
                api.service.requests.json_schemas() if api.service else UNKNOWN_BODIES)
        return app.openapi_schema

    app.openapi = openapi

    # Added first, so it runs inside the instrumentator, which then counts its 413 and 500 answers.
    app.add_middleware(RequestContextMiddleware, active=metrics.active,
                       max_body_bytes=settings.api_max_body_bytes,
                       body_seconds=settings.api_body_timeout_seconds)
    instrumentator = Instrumentator(
        should_group_status_codes=False,
        # Unknown paths share the endpoint label "none": a scanner cannot create new series.
        should_group_untemplated=True,
        excluded_handlers=[f"^{SCRAPE_PATH}$"],
        registry=registry,
    )
    # A custom instrumentation replaces the library's default http_* metrics with our api_* ones.
    # /metrics is status.py's own route, not the instrumentator's expose(), which only ever
    # serves the plain text format and so never the exemplars.
    instrumentator.add(metrics.record_request).instrument(app)
    metrics.initialise([(method, route.path) for router in routers for route in router.routes
                        if isinstance(route, APIRoute) and route.path != SCRAPE_PATH
                        for method in sorted(route.methods)])
    return app
