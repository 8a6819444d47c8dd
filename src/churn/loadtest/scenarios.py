"""The named scenarios of scripts/load_test.py: how much traffic of which kind, and what a student
should see move because of it.

Every scenario ends by itself, after a number of requests or a duration. Those that need a fault
switch it on through the API's demo fault switch for their duration and off again afterwards.
"""

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    watch: str  # the panels and alerts it moves, what to see, and when
    workers: int
    requests: int | None = None  # stop after this many requests...
    seconds: float | None = None  # ...or after this long
    rps: float | None = None  # a steady rate; None: as fast as the workers go
    traffic: str = "known"  # a mix of churn.loadtest.traffic.MIXES
    fault: dict[str, float] = field(default_factory=dict)  # body of POST /admin/faults

    def with_options(self, requests: int | None, seconds: float | None, workers: int | None,
                     rps: float | None) -> "Scenario":
        """The scenario with the command line's overrides; a count or a duration replaces both."""
        changed = self
        if requests is not None or seconds is not None:
            changed = replace(changed, requests=requests, seconds=seconds)
        if workers is not None:
            changed = replace(changed, workers=workers)
        if rps is not None:
            changed = replace(changed, rps=rps)
        return changed


LATENCY_FAULT_SECONDS = 2.5  # over ApiHighLatency's 2 s, under the client's 10 s time-out

SCENARIOS = {scenario.name: scenario for scenario in (
    Scenario("light", "50 lookups of known customers, 5 at a time (the course's first test)",
             "api-health: request rate and latency panels show a small bump within 15 s.",
             workers=5, requests=50),
    Scenario("medium", "200 lookups, 10 at a time",
             "api-health: a taller bump in requests per second; p95 latency still far below 2 s.",
             workers=10, requests=200),
    Scenario("heavy", "500 lookups, 20 at a time",
             "api-health: the largest of the three bumps; active requests above 1 while it runs.",
             workers=20, requests=500),
    Scenario("mixed", "realistic traffic for 2 minutes at 30 requests/s: known, unknown (404) "
             "and invalid (422) ids and /predict calls",
             "api-health: requests by endpoint and status code (200, 404, 422), error panels "
             "non-zero; ml-metrics: predictions by source and risk level, the score histogram.",
             workers=10, seconds=120, rps=30, traffic="mixed"),
    Scenario("errors", "mixed traffic for 3 minutes with half of the scoring requests failing "
             "(demo fault switch)",
             "api-health: 5xx ratio near 50% within 30 s, the injected-fault panel at 50%; "
             "ApiHighErrorRate pending after about 30 s, firing about 5 minutes after the start "
             "(its for: 5m), resolved about 5 minutes after the end.",
             workers=10, seconds=180, rps=10, traffic="mixed", fault={"error_share": 0.5}),
    Scenario("slow", f"lookups for 3 minutes with {LATENCY_FAULT_SECONDS:g} s added to each "
             "(demo fault switch)",
             "api-health: p95 latency over 2 s within 30 s, the injected-fault panel at 2.5 s; "
             "ApiHighLatency pending, then firing about 5 minutes after the start (for: 5m).",
             workers=20, seconds=180, fault={"latency_seconds": LATENCY_FAULT_SECONDS}),
    Scenario("drift", "1,200 /predict calls from the drifted population (older, more German "
             "customers, lower credit scores)",
             "data-drift: PSI per feature rising and the drift flag at 1 once the window holds "
             "200 rows, within a scrape; DataDriftDetected firing 2 minutes later.",
             workers=10, requests=1200, traffic="drifted"),
    Scenario("spike", "3,000 lookups, 100 at a time: a burst",
             "api-health: requests per second and active requests jump, p95 latency rises for "
             "the minute it lasts.",
             workers=100, requests=3000),
    Scenario("soak", "a steady rate (--rps, default 20) for --duration (default 5 minutes)",
             "every api-health panel flat and steady: the baseline the incidents stand out from.",
             workers=10, seconds=300, rps=20, traffic="mixed"),
)}
# `all`: the course's three, then each incident; soak is left out (it is a baseline, run it alone).
ALL = ("light", "medium", "heavy", "mixed", "spike", "drift", "errors", "slow")
