"""Is the service alive, is it ready, and which model does it serve."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client.exposition import choose_encoder

from churn.api.middleware import SCRAPE_PATH
from churn.api.schemas import DriftReport, ModelInfo, Readiness, problems
from churn.api.state import api_state

router = APIRouter(tags=["status"])


@router.get("/health", summary="Liveness: the process answers")
async def health(request: Request) -> dict[str, str]:
    """Also whether /metrics carries exemplars: not under several workers."""
    return {"status": "ok",
            "exemplars": "on" if api_state(request).exemplars else "off: several workers"}


@router.get(SCRAPE_PATH, summary="Metrics: Prometheus text, or OpenMetrics with exemplars",
            response_class=PlainTextResponse, responses={200: {"content": {
                "application/openmetrics-text": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> Response:
    """The format the scraper asks for in Accept: Prometheus asks for OpenMetrics, the only
    format that carries exemplars (each latency sample's request id); curl gets plain text."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(api_state(request).exposed), headers={"Content-Type": content_type})


@router.get("/ready", summary="Readiness: model and predictions loaded",
            responses={503: {"model": Readiness}})
async def ready(request: Request) -> Readiness:
    api = api_state(request)
    service = api.service
    if service is None:
        body = Readiness(status="not ready", reason=api.unready_reason)
        return JSONResponse(status_code=503, content=body.model_dump())
    return Readiness(status="ready", model_version=service.version,
                     predictions_loaded=len(service.store))


@router.get("/model", summary="The served model's metadata", responses=problems(503))
async def model(request: Request) -> ModelInfo:
    """Version, training time, algorithm, threshold, test metrics with their intervals,
    calibration and features; no file paths."""
    metadata = api_state(request).ready_service().model.metadata
    return ModelInfo(version=metadata["version"], trained_at=metadata["trained_at"],
                     algorithm=metadata["algorithm"], threshold=metadata["threshold"],
                     metrics=metadata["metrics"], metric_intervals=metadata.get("metric_intervals"),
                     calibration=metadata.get("calibration"), features=metadata["features"])


@router.get("/drift", summary="Drift of recent /predict inputs against the training data",
            responses=problems(503))
async def drift(request: Request) -> DriftReport:
    """PSI per feature over the sliding window; the flag only once the window holds enough rows."""
    api = api_state(request)
    window, settings = api.ready_service().drift, api.settings
    drift, judged = window.drift(), window.judged(settings.drift_min_rows)
    over = judged.drifted(settings.drift_psi_threshold) if judged else []
    return DriftReport(
        window_rows=len(window), window_size=window.size, min_rows=settings.drift_min_rows,
        threshold=settings.drift_psi_threshold, warning=settings.drift_psi_warning,
        feature_psi=drift.features, score_psi=drift.score, drift_detected=bool(over),
        features_over_threshold=over)
