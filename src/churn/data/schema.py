"""What a valid customer looks like: the known columns, their types and allowed values.

The one set of column rules: the CSV loader (training and batch) and the API's request bodies
are both built from it, so a value refused on one path is refused on the other.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class NumericRule:
    """A numeric column's bounds; `allowed` lists the only legal values of a flag column."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    allowed: tuple[int, ...] | None = None

    def describe(self) -> str:
        if self.allowed is not None:
            return "one of " + ", ".join(str(value) for value in self.allowed)
        kind = "a whole number" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{kind} from {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"{kind} of at least {self.low:g}"
        return kind


FLAG = NumericRule(allowed=(0, 1), integer=True)

# Rules of the public bank-churn schema. Columns not named here (extra features a user adds)
# only have to be numeric or text according to the feature list they are in.
NUMERIC_RULES: dict[str, NumericRule] = {
    "CustomerId": NumericRule(low=1, high=2**53, integer=True),
    "CreditScore": NumericRule(low=300, high=900),
    "Age": NumericRule(low=18, high=120),
    "Tenure": NumericRule(low=0, high=100),
    "Balance": NumericRule(low=0),
    "NumOfProducts": NumericRule(low=1, high=10, integer=True),
    "HasCrCard": FLAG,
    "IsActiveMember": FLAG,
    "EstimatedSalary": NumericRule(low=0),
    "Exited": FLAG,
}
MAX_CATEGORY_LENGTH = 64
# The spaces stripped around a category: ASCII only, so the API's schema can say exactly which
# texts are blank (NOT_BLANK: a character other than these) in any regular-expression dialect.
SPACES = " \t\n\r\f\v"
NOT_BLANK = r"[^ \t\n\r\f\v]"

# Categorical columns whose value must be one the model was trained on, when scoring (the batch
# job with a model, the API). Other categorical features accept unseen values: the one-hot
# encoder scores them as none of the known ones, and drift counts their share.
CLOSED_CATEGORIES = frozenset({"Gender"})


def category_spellings(known: Iterable[str]) -> dict[str, str]:
    """The lookup normalise_category needs: each trained category by itself and case-folded."""
    return {value.casefold(): value for value in known} | {value: value for value in known}


def normalise_category(value: str, spellings: Mapping[str, str]) -> str:
    """Strips spaces and gives a trained category its trained spelling, whatever the case.

    " france " and "FRANCE" are the same country as "France"; a text matching no trained
    category is only stripped ("" then counts as missing in a file).
    """
    stripped = value.strip(SPACES)
    return spellings.get(stripped) or spellings.get(stripped.casefold(), stripped)
