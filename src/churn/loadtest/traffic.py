"""What the load test sends: known customers from the predictions file (never a guessed range),
unknown and malformed ids, and /predict bodies of the served model's features drawn from the
synthetic population, normal or drifted."""

import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churn.data.schema import NUMERIC_RULES, NumericRule
from churn.data.synthetic import generate
from churn.errors import ChurnError

# Ids the API refuses (422): text, zero, a sign, a decimal, a leading zero.
INVALID_IDS = ("not-an-id", "0", "-15634602", "15634602.0", "015634602")
BODIES = 2000  # distinct /predict bodies of each population


@dataclass(frozen=True)
class Call:
    kind: str  # known, unknown, invalid, predict, drifted
    method: str
    path: str
    body: dict | None = None


@dataclass(frozen=True)
class Mix:
    """Shares of each kind of call; they need not add up to 1."""

    shares: dict[str, float]

    def draw(self, population: "Population", rng: random.Random) -> Call:
        kind = rng.choices(list(self.shares), weights=list(self.shares.values()))[0]
        return population.call(kind, rng)


def mixes(unknown_share: float, invalid_share: float, predict_share: float) -> dict[str, Mix]:
    """The traffic mixes of the scenarios; `mixed` looks like a real client, mostly lookups."""
    known = max(1 - unknown_share - invalid_share - predict_share, 0)
    return {"known": Mix({"known": 1}),
            "mixed": Mix({"known": known, "unknown": unknown_share, "invalid": invalid_share,
                          "predict": predict_share}),
            "drifted": Mix({"drifted": 1})}


def predict_bodies(frame: pd.DataFrame, features: dict[str, list[str]]) -> list[dict]:
    """POST /predict bodies of a frame's complete rows, typed as the API wants them: whole
    numbers and flags as int, other numbers as float, categories as text."""
    types = {name: int if NUMERIC_RULES.get(name, NumericRule()).integer else float
             for name in features["numeric"]}
    types |= dict.fromkeys(features["categorical"], str)
    return [{name: kind(row[name]) for name, kind in types.items()}
            for _, row in frame.dropna(subset=list(types)).iterrows()]


def known_ids(predictions: Path, id_column: str) -> list[int]:
    try:
        ids = pd.read_csv(predictions, usecols=[id_column])[id_column]
    except (OSError, ValueError) as exc:
        raise ChurnError(f"cannot read the customer ids from {predictions} ({exc}); run "
                         "scripts/predict_batch.py first, or pass --predictions") from None
    if ids.empty:
        raise ChurnError(f"{predictions} holds no customers")
    return ids.astype(int).tolist()


@dataclass(frozen=True)
class Population:
    """Everything a call is drawn from."""

    ids: list[int]
    bodies: list[dict]
    drifted: list[dict]
    highest: int  # of the ids: past it, no customer

    @classmethod
    def build(cls, ids: list[int], features: dict[str, list[str]], seed: int) -> "Population":
        return cls(ids=ids, highest=max(ids),
                   bodies=predict_bodies(generate(BODIES, seed=seed), features),
                   drifted=predict_bodies(generate(BODIES, seed=seed, drift=True), features))

    def call(self, kind: str, rng: random.Random) -> Call:
        if kind == "known":
            return Call(kind, "GET", f"/churn/{rng.choice(self.ids)}")
        if kind == "unknown":  # past the highest known id: never a customer
            return Call(kind, "GET", f"/churn/{self.highest + rng.randint(1, 10**6)}")
        if kind == "invalid":
            return Call(kind, "GET", f"/churn/{rng.choice(INVALID_IDS)}")
        bodies = self.drifted if kind == "drifted" else self.bodies
        return Call(kind, "POST", "/predict", rng.choice(bodies))
