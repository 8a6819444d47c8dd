"""Churn scores: of a known customer by id, and of customers described in the request body.

Bodies are validated by hand against the request models of the Service that scores them (see
churn.api.schemas), not by a type in the signature, which would be fixed when this module is
imported; app.py puts those models in the OpenAPI components that the routes refer to.
"""

import re
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError

from churn.api.schemas import (
    CUSTOMER,
    CUSTOMER_BATCH,
    BatchPrediction,
    CustomerPrediction,
    Prediction,
    problems,
)
from churn.api.service import Service
from churn.api.state import ApiState, api_state
from churn.risk import risk_level

router = APIRouter(tags=["predictions"])
PLAIN_DIGITS = re.compile(r"[1-9][0-9]*")
# Sent by the blackbox exporter's probes (monitoring/blackbox/blackbox.yml). A probe counts in the
# api_* HTTP metrics like any request, but not in the model_* ones, which describe what customers
# were told: four lookups a minute of one customer would fill the score histogram of a quiet
# classroom and keep NoPredictionsServed from ever firing.
PROBE_HEADER = "x-churn-probe"


def _customer_facing(request: Request) -> bool:
    return PROBE_HEADER not in request.headers


def _plain_digits(text: str) -> str:
    """One spelling per customer, as the data writes it: no sign, leading zero, decimals or
    separators, which int() would accept and which would give one customer several URLs."""
    if not PLAIN_DIGITS.fullmatch(text):
        raise ValueError("a customer id is written in plain digits, as in the data")
    return text


CustomerId = Annotated[int, Path(ge=1, le=2**53, description="a CustomerId of the customers file"),
                       BeforeValidator(_plain_digits)]
Body = TypeVar("Body", bound=BaseModel)


def _prediction(probability: float, version: str, source: str, service: Service, api: ApiState,
                request: Request) -> dict:
    """The fields of a Prediction, counted in the metrics with the request id as exemplar (unless
    a probe asked)."""
    level = risk_level(probability, api.settings)
    if _customer_facing(request):
        api.metrics.record_prediction(source, level, probability, request.state.request_id)
    return {"churn_probability": probability, "risk_level": level, "model_version": version,
            "churn_predicted": probability >= service.model.metadata["threshold"]}


def _body_doc(model_name: str) -> dict:
    """openapi_extra of a route whose JSON body is the request model `model_name`."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model_name}"}}}}}


async def _body(request: Request, model: type[Body]) -> Body:
    """The request body validated by `model`; a 422 naming the field, like FastAPI's own, if not."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([
            error | {"loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False, include_input=False)]) from None


@router.get("/churn/{customer_id}", summary="Churn risk of a known customer",
            responses=problems(404, 422, 503))
async def churn_of_customer(customer_id: CustomerId, request: Request) -> CustomerPrediction:
    """From the batch predictions when there is one, else scored now and remembered."""
    api = api_state(request)
    service = api.ready_service()
    found = await api.lookup(service, customer_id, counted=_customer_facing(request))
    if found is None:
        raise HTTPException(404, f"customer {customer_id} not found")
    stored, source = found
    fields = _prediction(stored.probability, stored.model_version, source, service, api, request)
    request.state.customer_id, request.state.risk_level = customer_id, fields["risk_level"]
    return CustomerPrediction(customer_id=customer_id, source=source, **fields)


@router.post("/predict", summary="Churn risk of the customer in the body",
             openapi_extra=_body_doc(CUSTOMER), responses=problems(408, 413, 422, 503))
async def predict(request: Request) -> Prediction:
    api = api_state(request)
    service = api.ready_service()
    customer = await _body(request, service.requests.customer)
    rows = [customer.model_dump(by_alias=True)]
    (probability,) = await api.score(service, rows, watched=True)
    fields = _prediction(probability, service.version, "model", service, api, request)
    request.state.risk_level = fields["risk_level"]
    return Prediction(**fields)


@router.post("/predict/batch", summary="Churn risk of several customers in one call",
             openapi_extra=_body_doc(CUSTOMER_BATCH), responses=problems(408, 413, 422, 503))
async def predict_batch(request: Request) -> BatchPrediction:
    api = api_state(request)
    service, limit = api.ready_service(), api.settings.api_max_batch
    rows = (await _body(request, service.requests.batch)).model_dump(by_alias=True)["customers"]
    if len(rows) > limit:
        raise HTTPException(413, f"at most {limit} customers per call, got {len(rows)}; split the batch")
    probabilities = await api.score(service, rows, watched=True)
    return BatchPrediction(predictions=[
        Prediction(**_prediction(probability, service.version, "model", service, api, request))
        for probability in probabilities])
