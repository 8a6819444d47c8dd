"""Request and response bodies of the API; the field names of a customer are the data schema's."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from churn.data.schema import MAX_CATEGORY_LENGTH

RiskLevel = Literal["low", "medium", "high"]
Flag = Literal[0, 1]


class Customer(BaseModel):
    """One customer's features. Surname and ids are not accepted: the model never sees them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "CreditScore": 619, "Geography": "France", "Gender": "Female", "Age": 42,
            "Tenure": 2, "Balance": 0.0, "NumOfProducts": 1, "HasCrCard": 1,
            "IsActiveMember": 1, "EstimatedSalary": 101348.88,
        }]},
    )

    CreditScore: float = Field(ge=300, le=900)
    # Any country is scored (an unseen one is encoded as none of the known ones); drift counts it.
    Geography: str = Field(min_length=1, max_length=MAX_CATEGORY_LENGTH)
    Gender: str = Field(min_length=1, max_length=MAX_CATEGORY_LENGTH,
                        description="one of the genders the model was trained on")
    Age: float = Field(ge=18, le=120)
    Tenure: float = Field(ge=0, le=100)
    Balance: float = Field(ge=0)
    NumOfProducts: int = Field(ge=1, le=10)
    HasCrCard: Flag
    IsActiveMember: Flag
    EstimatedSalary: float = Field(ge=0)


class CustomerBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customers: Annotated[list[Customer], Field(min_length=1)]


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
