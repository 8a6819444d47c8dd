"""What the routes need from their app: settings, metrics, and the service once it is ready.

Routes read this one object from `request.app.state.api` rather than declaring FastAPI
dependencies: solving three dependencies cost more per request (about 60 us measured) than all
of the metrics and logging together, on the hottest route of a service built to be measured.
"""

import gc
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from prometheus_client import CollectorRegistry

from churn.api.batching import MicroBatcher
from churn.api.faults import FaultSwitch
from churn.api.service import Service, activate, observe_inputs
from churn.api.store import Stored
from churn.metrics import ApiMetrics
from churn.settings import Settings


@dataclass
class ApiState:
    settings: Settings
    metrics: ApiMetrics
    exposed: CollectorRegistry  # what /metrics shows
    exemplars: bool  # False under several workers: multiprocess mode keeps none
    service: Service | None = None
    unready_reason: str = "starting"
    faults: FaultSwitch | None = None  # the demo fault switch, when demo_faults is on
    batcher: MicroBatcher = field(init=False)

    def __post_init__(self) -> None:
        self.batcher = MicroBatcher(self.settings.api_scoring_batch_rows,
                                    observe=self.metrics.observe_scoring, watch=self._watch)

    def _watch(self, service: Service, customers: list[dict], probabilities: list[float]) -> None:
        observe_inputs(service, customers, probabilities, self.settings, self.metrics)

    def serve(self, service: Service) -> None:
        """Puts `service` in front of requests, in place of the one before, if any.

        What loading left (the model, the libraries, the tables: about 200,000 objects) is then
        frozen out of the garbage collector's way: every full collection would otherwise walk
        all of it, blocking the event loop about 100 ms several times a minute under load, the
        API's worst latencies. Frozen objects are never collected, so the freeze comes after
        the swap, once the replaced service is garbage, and after a thaw and a collection.
        """
        activate(service, self.metrics)
        self.service, self.unready_reason = service, ""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def ready_service(self) -> Service:
        """The service, or a 503 that says why there is none."""
        if self.service is None:
            raise HTTPException(503, f"not ready: {self.unready_reason}")
        return self.service

    async def score(self, service: Service, customers: list[dict], watched: bool) -> list[float]:
        """Scored off the event loop, together with the other requests waiting (batching.py);
        `watched` inputs also go to the drift window."""
        return await self.batcher.score(service, customers, watched)

    async def lookup(self, service: Service, customer_id: int,
                     counted: bool) -> tuple[Stored, str] | None:
        """A known customer's score and its source: "cache" (the batch predictions) or "model"
        (scored now, and remembered so the next lookup is a hit); None for an unknown customer.
        Hits and misses are `counted` in the metrics unless a probe asked."""
        stored = service.store.get(customer_id)
        if stored is not None:
            if counted:
                self.metrics.cache_hits.inc()
            return stored, "cache"
        features = service.store.features_of(customer_id)
        if features is None:
            return None
        (probability,) = await self.score(service, [features], watched=False)
        stored = Stored(probability, service.version)
        service.store.remember(customer_id, stored)
        if counted:
            self.metrics.cache_misses.inc()
        return stored, "model"


def api_state(request: Request) -> ApiState:
    return request.app.state.api
