"""What a scenario did: counts by status, latency percentiles, errors by kind, printed and as JSON."""

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class Result:
    kind: str  # of call: known, unknown, invalid, predict, drifted
    status: int | None  # None when no answer came
    seconds: float
    failure: str | None = None  # timeout, ConnectionError, ... when no answer came


@dataclass(frozen=True)
class Summary:
    scenario: str
    seconds: float
    requests: int
    requests_per_second: float
    statuses: dict[str, int]  # "200": 812, ...; "none" when no answer came
    latency_ms: dict[str, float]  # p50, p95, p99 and max of the answered requests
    errors: dict[str, int]  # "404": 40, "500": 9, "timeout": 1: every request not answered 2xx
    by_call: dict[str, int]  # known: 700, predict: 150, ...
    interrupted: bool

    @classmethod
    def of(cls, scenario: str, results: list["Result"], seconds: float, interrupted: bool) -> "Summary":
        statuses = Counter(str(result.status) if result.status else "none" for result in results)
        answered = np.array([result.seconds for result in results if result.status], dtype=float)
        names = [*(f"p{p}" for p in PERCENTILES), "max"]
        points = [*np.percentile(answered, PERCENTILES), answered.max()] if answered.size else [
            0.0] * len(names)
        latency = {name: round(float(value) * 1000, 1) for name, value in zip(names, points, strict=True)}
        errors = Counter(result.failure or str(result.status) for result in results
                         if not (result.status and 200 <= result.status < 300))
        return cls(scenario=scenario, seconds=round(seconds, 2), requests=len(results),
                   requests_per_second=round(len(results) / seconds, 1) if seconds else 0.0,
                   statuses=dict(sorted(statuses.items())), latency_ms=latency,
                   errors=dict(sorted(errors.items())),
                   by_call=dict(sorted(Counter(result.kind for result in results).items())),
                   interrupted=interrupted)

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        """A few lines for the terminal."""
        latency = ", ".join(f"{name} {value:g} ms" for name, value in self.latency_ms.items())
        lines = [
            f"{self.scenario}{' (interrupted)' if self.interrupted else ''}: {self.requests} requests "
            f"in {self.seconds:g} s, {self.requests_per_second:g}/s",
            f"  status    {', '.join(f'{status}: {count}' for status, count in self.statuses.items())}",
            f"  latency   {latency}",
            f"  calls     {', '.join(f'{kind}: {count}' for kind, count in self.by_call.items())}",
            f"  errors    {', '.join(f'{kind}: {count}' for kind, count in self.errors.items()) or 'none'}",
        ]
        return "\n".join(lines)
