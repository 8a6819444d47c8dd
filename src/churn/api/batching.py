"""Adaptive micro-batching: customers to score that arrive while a scoring call runs are scored
together by the next call, in one predict_proba.

A call on one row costs about as much as a call on fifty (pandas and scikit-learn overhead, not
arithmetic), so scoring requests one at a time caps /predict at a few hundred a second. Here the
first request of a quiet moment is scored at once, as before; those that arrive meanwhile wait
only for the call in progress, then share the next one (as BentoML, Ray Serve and Triton batch).
A call takes at most `max_rows` rows, and only rows of one Service: after a reload, requests
begun on the old model are scored by the old model. The inputs the drift window watches are
handed over once per call too, so its PSI is computed once for the batch, not per request.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from loguru import logger

from churn.api.service import Service

# (service, customers, their scores): inputs of /predict calls, for the drift window.
Watch = Callable[[Service, list[dict], list[float]], None]


@dataclass(frozen=True)
class Waiting:
    service: Service
    customers: list[dict]
    watched: bool  # its inputs go to the drift window
    scores: asyncio.Future


class MicroBatcher:
    """Queues scoring requests and drains them in batches, one scoring call at a time."""

    def __init__(self, max_rows: int, observe: Callable[[int, float], None], watch: Watch) -> None:
        self.max_rows = max_rows
        self.observe = observe  # (rows, seconds) of every scoring call
        self.watch = watch
        self._waiting: list[Waiting] = []
        self._drainer: asyncio.Task | None = None

    async def score(self, service: Service, customers: list[dict], watched: bool) -> list[float]:
        """The churn probabilities of `customers`, in order, once a scoring call has made them;
        `watched` inputs are handed to `watch` with their scores."""
        scores = asyncio.get_running_loop().create_future()
        self._waiting.append(Waiting(service, customers, watched, scores))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await scores

    def _next_batch(self) -> list[Waiting]:
        """The oldest waiting requests of the oldest one's service, up to max_rows (at least one)."""
        first = self._waiting[0]
        batch, rows = [], 0
        for waiting in self._waiting:
            if waiting.service is not first.service:
                continue
            if batch and rows + len(waiting.customers) > self.max_rows:
                break
            batch.append(waiting)
            rows += len(waiting.customers)
        taken = {id(waiting) for waiting in batch}
        self._waiting = [waiting for waiting in self._waiting if id(waiting) not in taken]
        return batch

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._next_batch()
                # A client that went away has cancelled its future: its rows are not scored.
                batch = [waiting for waiting in batch if not waiting.scores.done()]
                if batch:
                    await self._score(batch)
        finally:
            self._drainer = None
            for waiting in self._waiting:  # only if this task itself failed or was cancelled
                waiting.scores.cancel()

    async def _score(self, batch: list[Waiting]) -> None:
        rows = [customer for waiting in batch for customer in waiting.customers]
        started = time.perf_counter()
        try:
            scores = await anyio.to_thread.run_sync(batch[0].service.scorer.score, rows)
        except Exception as exc:  # each request answers the error, as if scored alone
            for waiting in batch:
                if not waiting.scores.done():
                    waiting.scores.set_exception(exc)
            return
        self.observe(len(rows), time.perf_counter() - started)
        watched: tuple[list[dict], list[float]] = ([], [])
        start = 0
        for waiting in batch:
            end = start + len(waiting.customers)
            if not waiting.scores.done():
                waiting.scores.set_result(scores[start:end])
            if waiting.watched:
                watched[0].extend(waiting.customers)
                watched[1].extend(scores[start:end])
            start = end
        if watched[0]:
            try:
                self.watch(batch[0].service, *watched)
            except Exception:  # the answers are out; drift must not take the batcher down
                logger.exception("drift window update failed")
