"""Churn scores: of a known customer by id, and of customers described in the request body."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError

from churn.api.deps import api_state
from churn.api.schemas import (
    BatchPrediction,
    Customer,
    CustomerBatch,
    CustomerPrediction,
    Prediction,
)
from churn.api.service import Service, observe_inputs
from churn.api.store import Stored
from churn.metrics import ApiMetrics
from churn.model.scoring import risk_level
from churn.settings import Settings

router = APIRouter(tags=["predictions"])
CustomerId = Annotated[int, Path(ge=1, le=2**53, description="a CustomerId of the customers file")]


def _prediction(probability: float, version: str, source: str, service: Service,
                settings: Settings, metrics: ApiMetrics) -> dict:
    """The fields of a Prediction, counted in the metrics."""
    level = risk_level(probability, settings)
    metrics.record_prediction(source, level, probability)
    return {"churn_probability": probability, "risk_level": level, "model_version": version,
            "churn_predicted": probability >= service.model.metadata["threshold"]}


def _check_categories(customers: list[Customer], service: Service, prefix: str) -> None:
    """Gender must be a category the model learned. (Any country is accepted: drift counts it.)"""
    known = service.scorer.categories("Gender")
    for index, customer in enumerate(customers):
        if customer.Gender not in known:
            location = ("body", *((prefix, index) if prefix else ()), "Gender")
            raise RequestValidationError([{
                "loc": location, "msg": f"Gender must be one of {', '.join(known)}",
                "type": "value_error"}])


@router.get("/churn/{customer_id}", summary="Churn risk of a known customer")
async def churn_of_customer(customer_id: CustomerId, request: Request) -> CustomerPrediction:
    """From the batch predictions when there is one, else scored now and remembered."""
    api = api_state(request)
    service, metrics = api.ready_service(), api.metrics
    stored, source = service.store.get(customer_id), "cache"
    if stored is None:
        features = service.store.features_of(customer_id)
        if features is None:
            raise HTTPException(404, f"customer {customer_id} not found")
        (probability,) = await api.score(service, [features])
        stored, source = Stored(probability, service.version), "model"
        service.store.remember(customer_id, stored)
        metrics.cache_misses.inc()
    else:
        metrics.cache_hits.inc()
    fields = _prediction(stored.probability, stored.model_version, source, service, api.settings,
                         metrics)
    request.state.customer_id, request.state.risk_level = customer_id, fields["risk_level"]
    return CustomerPrediction(customer_id=customer_id, source=source, **fields)


@router.post("/predict", summary="Churn risk of the customer in the body")
async def predict(customer: Customer, request: Request) -> Prediction:
    api = api_state(request)
    service = api.ready_service()
    _check_categories([customer], service, prefix="")
    rows = [customer.model_dump()]
    (probability,) = await api.score(service, rows)
    observe_inputs(service, rows, [probability], api.settings, api.metrics)
    fields = _prediction(probability, service.version, "model", service, api.settings, api.metrics)
    request.state.risk_level = fields["risk_level"]
    return Prediction(**fields)


@router.post("/predict/batch", summary="Churn risk of several customers in one call")
async def predict_batch(batch: CustomerBatch, request: Request) -> BatchPrediction:
    api = api_state(request)
    service, limit = api.ready_service(), api.settings.api_max_batch
    if len(batch.customers) > limit:
        raise HTTPException(413, f"at most {limit} customers per call, "
                                 f"got {len(batch.customers)}; split the batch")
    _check_categories(batch.customers, service, prefix="customers")
    rows = [customer.model_dump() for customer in batch.customers]
    probabilities = await api.score(service, rows)
    observe_inputs(service, rows, probabilities, api.settings, api.metrics)
    return BatchPrediction(predictions=[
        Prediction(**_prediction(probability, service.version, "model", service, api.settings,
                                 api.metrics))
        for probability in probabilities])
