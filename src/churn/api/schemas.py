"""Request and response bodies of the API.

A customer's body is built from the served model's features and the column rules of
churn.data.schema, so the docs, the validation and the scoring cannot disagree. Each loaded
Service holds its own RequestModels and requests are validated against the Service that scores
them: a reload that brings other training categories validates with them at once.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

from churn.data.schema import (
    CLOSED_CATEGORIES,
    MAX_CATEGORY_LENGTH,
    NOT_BLANK,
    NUMERIC_RULES,
    category_spellings,
    normalise_category,
)

RiskLevel = Literal["low", "medium", "high"]
# Names of the request bodies in the OpenAPI components, which the routes refer to.
CUSTOMER, CUSTOMER_BATCH = "Customer", "CustomerBatch"
# Values of the docs' example body; a feature not named here gets one from its rule.
EXAMPLE = {"CreditScore": 619, "Geography": "France", "Gender": "Female", "Age": 42, "Tenure": 2,
           "Balance": 0.0, "NumOfProducts": 1, "HasCrCard": 1, "IsActiveMember": 1,
           "EstimatedSalary": 101348.88}


def _json_number(value: Any) -> Any:
    """pydantic would read true as 1 and "42" as 42; the schema says number, so they are refused."""
    if isinstance(value, bool | str):
        raise ValueError("a JSON number is expected")
    return value


def _numeric(name: str) -> tuple[Any, Any]:
    """Type and example of a numeric feature; one without a rule (a user's own) is any finite number."""
    rule = NUMERIC_RULES.get(name)
    number_only = BeforeValidator(_json_number)
    if rule is None:
        return Annotated[float, Field(allow_inf_nan=False), number_only], 0.0
    example = EXAMPLE.get(name, rule.allowed[0] if rule.allowed else rule.low or 0)
    if rule.allowed is not None:
        return Annotated[Literal[rule.allowed], number_only], example
    if rule.integer:
        return Annotated[int, Field(ge=rule.low, le=rule.high), number_only], example
    return Annotated[float, Field(ge=rule.low, le=rule.high, allow_inf_nan=False), number_only], example


def _categorical(name: str, known: list[str]) -> tuple[Any, str]:
    """Type and example of a categorical feature: spelled as trained, closed ones limited to `known`."""
    spellings = category_spellings(known)
    example = EXAMPLE[name] if EXAMPLE.get(name) in known else known[0]
    if name in CLOSED_CATEGORIES:
        # Case and surrounding spaces aside, which the documented enum cannot express.
        normalise = BeforeValidator(
            lambda value: normalise_category(value, spellings) if isinstance(value, str) else value)
        return Annotated[Literal[tuple(known)], normalise, Field(
            description=f"one of {known}, in any case")], example
    # Any other text is scored (as none of the known categories); drift counts its share. Length
    # and blankness are checked on the text as sent, as the schema documents them.
    return Annotated[str, Field(max_length=MAX_CATEGORY_LENGTH, pattern=NOT_BLANK),
                     AfterValidator(lambda value: normalise_category(value, spellings))], example


@dataclass(frozen=True)
class RequestModels:
    """The request bodies of one served model, for validation and for the OpenAPI docs."""

    customer: type[BaseModel]
    batch: type[BaseModel]

    def json_schemas(self) -> dict[str, dict]:
        """OpenAPI components of both bodies, by model name."""
        _, schemas = models_json_schema([(self.customer, "validation"), (self.batch, "validation")],
                                        ref_template="#/components/schemas/{model}")
        return schemas["$defs"]


# Documented while no model is loaded (an unready start): the bodies depend on the model.
UNKNOWN_BODIES = {name: {"type": "object", "title": name,
                         "description": "the features of the model served, once one is loaded"}
                  for name in (CUSTOMER, CUSTOMER_BATCH)}


def request_models(features: dict[str, list[str]], categories: dict[str, list[str]],
                   max_batch: int) -> RequestModels:
    """Bodies of /predict and /predict/batch for a model's features and trained categories.

    A batch over `max_batch` customers is documented as invalid here and refused (413) by the
    route, with a message saying to split it.

    Fields are named f0, f1, ... with the feature as alias: any column name of a CSV file is a
    valid JSON key, though not always a valid Python or pydantic field name ("Credit Score", "json").
    """
    fields: dict[str, Any] = {}
    example: dict[str, Any] = {}
    for name in features["numeric"]:
        kind, example[name] = _numeric(name)
        fields[f"f{len(fields)}"] = (kind, Field(alias=name))
    for name in features["categorical"]:
        kind, example[name] = _categorical(name, categories[name])
        fields[f"f{len(fields)}"] = (kind, Field(alias=name))
    # Surname and ids are refused, not dropped: the model never sees them and the caller should know.
    customer = create_model(CUSTOMER, __config__=ConfigDict(
        extra="forbid", json_schema_extra={"examples": [example]}), **fields)
    batch = create_model(CUSTOMER_BATCH, __config__=ConfigDict(extra="forbid"),
                         customers=(Annotated[list[customer], Field(
                             min_length=1, json_schema_extra={"maxItems": max_batch})], ...))
    return RequestModels(customer=customer, batch=batch)


class Problem(BaseModel):
    """Every error answer: what went wrong, in one sentence without file paths or values sent."""

    detail: str
    request_id: str | None = Field(None, description="on a 500 only: quote it when reporting it")


class FieldProblem(BaseModel):
    field: str = Field(description="the refused field, as customer_id or customers[3].Age")
    message: str


class InvalidRequest(Problem):
    errors: list[FieldProblem]


PROBLEMS = {
    401: "no bearer token, or not the admin_token setting",
    404: "no customer with this id",
    408: "the request body did not arrive whole within api_body_timeout_seconds",
    409: "the reload failed and the model served before still serves; the detail says why",
    413: "the body is over api_max_body_bytes, or the batch over api_max_batch customers",
    422: "the request is invalid: each refused field is named",
    503: "not ready: no model is loaded (GET /ready says why)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route: the error answers it can give, documented."""
    return {status: {"model": InvalidRequest if status == 422 else Problem,
                     "description": PROBLEMS[status]} for status in statuses}


class Prediction(BaseModel):
    churn_probability: float = Field(description="probability that the customer leaves, 0 to 1")
    risk_level: RiskLevel
    churn_predicted: bool = Field(description="probability at or above the model's decision threshold")
    model_version: str


class CustomerPrediction(Prediction):
    customer_id: int
    source: Literal["cache", "model"] = Field(
        description="cache: found among the precomputed predictions; model: scored now")


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    version: str
    trained_at: str
    algorithm: str
    threshold: float
    metrics: dict
    # 95% bootstrap intervals of the test metrics: a difference smaller than them is chance.
    metric_intervals: dict[str, list[float]] | None = None
    # The calibration map and its reliability table (mean score against observed churn rate per
    # score bin, on the test split); None for a model trained before calibration.
    calibration: dict | None = None
    features: dict[str, list[str]]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    model_version: str | None = None
    predictions_loaded: int = 0
    reason: str | None = None


class ReloadResult(BaseModel):
    model_version: str
    previous_version: str | None
    predictions_loaded: int


class DriftReport(BaseModel):
    window_rows: int = Field(description="inputs in the sliding window now")
    window_size: int
    min_rows: int = Field(description="rows the window needs before drift is judged")
    threshold: float
    warning: float
    feature_psi: dict[str, float] = Field(description="PSI of each feature against the training data")
    score_psi: float = Field(description="PSI of the served churn probabilities")
    drift_detected: bool
    features_over_threshold: list[str]
