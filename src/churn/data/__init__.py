"""Customer data: the schema, validated loading, and the synthetic generator."""

from churn.data.loading import iter_customer_chunks, load_customers, validate
from churn.data.synthetic import generate

__all__ = ["generate", "iter_customer_chunks", "load_customers", "validate"]
