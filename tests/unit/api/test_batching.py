"""Micro-batching: concurrent requests scored together, exactly as if scored one by one."""

import asyncio
import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from churn.api.batching import MicroBatcher
from churn.api.service import Service, load_service
from churn.model.registry import LoadedModel
from churn.model.scoring import Scorer
from tests.helpers import customer_bodies, settings_for


@pytest.fixture(scope="module")
def service(scored_project: Path) -> Service:
    return load_service(settings_for(scored_project))


@pytest.fixture(scope="module")
def bodies(scored_project: Path) -> list[dict]:
    """Customers as /predict bodies, missing values included (the scorer imputes them)."""
    return customer_bodies(pd.read_csv(scored_project / "data" / "customers.csv").head(60))


def ignore(service: Service, customers: list[dict], scores: list[float]) -> None:
    pass


class Calls:
    """The (rows, seconds) of each scoring call, as the metrics would see them."""

    def __init__(self) -> None:
        self.rows: list[int] = []

    def __call__(self, rows: int, seconds: float) -> None:
        assert seconds > 0
        self.rows.append(rows)


def score_concurrently(batcher: MicroBatcher, requests: list[tuple[Service, list[dict]]]) -> list:
    async def all_at_once() -> list:
        return await asyncio.gather(*(batcher.score(service, customers, watched=False)
                                      for service, customers in requests), return_exceptions=True)
    return asyncio.run(all_at_once())


def test_concurrent_requests_share_calls_and_get_exactly_their_unbatched_scores(service, bodies):
    calls = Calls()
    batcher = MicroBatcher(max_rows=256, observe=calls, watch=ignore)
    answers = score_concurrently(batcher, [(service, [body]) for body in bodies])
    alone = [service.scorer.score([body]) for body in bodies]
    assert answers == alone  # bit for bit, in request order
    assert calls.rows == [len(bodies)]  # they arrived together: one call


def test_requests_arriving_during_a_call_share_the_next_one(service, bodies):
    calls = Calls()
    batcher = MicroBatcher(max_rows=256, observe=calls, watch=ignore)

    async def one_then_many() -> list:
        first = asyncio.create_task(batcher.score(service, [bodies[0]], watched=False))
        while batcher._drainer is None or batcher._waiting:  # until its call has started
            await asyncio.sleep(0)
        rest = await asyncio.gather(*(batcher.score(service, [body], watched=False) for body in bodies[1:]))
        return [await first, *rest]

    assert asyncio.run(one_then_many()) == [service.scorer.score([body]) for body in bodies]
    assert calls.rows == [1, len(bodies) - 1]


def test_a_lone_request_is_scored_at_once_in_a_call_of_its_own(service, bodies):
    calls = Calls()
    batcher = MicroBatcher(max_rows=256, observe=calls, watch=ignore)
    for body in bodies[:3]:
        assert asyncio.run(batcher.score(service, [body], watched=False)) == service.scorer.score([body])
    assert calls.rows == [1, 1, 1]


def test_a_call_takes_at_most_max_rows_and_multi_row_requests_stay_whole(service, bodies):
    calls = Calls()
    batcher = MicroBatcher(max_rows=5, observe=calls, watch=ignore)
    requests = [(service, bodies[start:start + size]) for start, size in
                ((0, 1), (1, 2), (3, 2), (5, 3), (8, 7), (15, 1))]
    answers = score_concurrently(batcher, requests)
    assert answers == [service.scorer.score(customers) for _, customers in requests]
    # 1+2+2 | 3 | 7 (over the bound, but a request is never split) | 1
    assert calls.rows == [5, 3, 7, 1]


class RecordingScorer(Scorer):
    """The real scorer, noting the name of its service at each call."""

    def __init__(self, model: LoadedModel, name: str, seen: list[str]) -> None:
        super().__init__(model)
        self.name, self.seen = name, seen

    def score(self, customers: list[dict]) -> list[float]:
        self.seen.append(self.name)
        return super().score(customers)


def test_requests_of_another_model_are_never_scored_in_the_same_call(service, bodies):
    """After a reload, a request begun on the old service is scored by the old model."""
    seen: list[str] = []
    old, new = (dataclasses.replace(service, scorer=RecordingScorer(service.model, name, seen))
                for name in ("old", "new"))
    calls = Calls()
    batcher = MicroBatcher(max_rows=256, observe=calls, watch=ignore)
    requests = [(old if number % 2 == 0 else new, [body]) for number, body in enumerate(bodies[:9])]
    answers = score_concurrently(batcher, requests)
    assert answers == [service.scorer.score([body]) for body in bodies[:9]]
    # The oldest request is old's: all of old's first, then all of new's.
    assert (seen, calls.rows) == (["old", "new"], [5, 4])


def test_a_failing_call_fails_each_of_its_requests_and_the_next_ones_are_scored(service, bodies):
    calls = Calls()
    batcher = MicroBatcher(max_rows=256, observe=calls, watch=ignore)
    broken = dataclasses.replace(service, scorer=None)  # .score raises AttributeError
    answers = score_concurrently(batcher, [(broken, [bodies[0]]), (broken, [bodies[1]])])
    assert all(isinstance(answer, AttributeError) for answer in answers), answers
    alone = asyncio.run(batcher.score(service, [bodies[2]], watched=False))
    assert alone == service.scorer.score([bodies[2]])
    assert calls.rows == [1]


def test_a_request_cancelled_while_waiting_is_not_scored(service, bodies):
    calls = Calls()
    batcher = MicroBatcher(max_rows=256, observe=calls, watch=ignore)

    async def one_gives_up() -> tuple[list[float], list[float]]:
        first = asyncio.create_task(batcher.score(service, [bodies[0]], watched=False))
        await asyncio.sleep(0)  # the first call starts
        gone = asyncio.create_task(batcher.score(service, [bodies[1]], watched=False))
        kept = asyncio.create_task(batcher.score(service, [bodies[2]], watched=False))
        await asyncio.sleep(0)
        gone.cancel()
        return await first, await kept

    first, kept = asyncio.run(one_gives_up())
    assert (first, kept) == (service.scorer.score([bodies[0]]), service.scorer.score([bodies[2]]))
    assert calls.rows == [1, 1]


def test_watched_inputs_reach_the_drift_window_once_per_call_with_their_scores(service, bodies):
    """/predict's inputs feed the drift window, a lookup's do not; one update per call."""
    updates: list[tuple[list[dict], list[float]]] = []
    batcher = MicroBatcher(max_rows=256, observe=Calls(),
                           watch=lambda _, customers, scores: updates.append((customers, scores)))
    requests = [(service, [body]) for body in bodies[:6]]

    async def mixed() -> list:
        return await asyncio.gather(*(batcher.score(service, customers, watched=number % 3 != 0)
                                      for number, (_, customers) in enumerate(requests)))

    answers = asyncio.run(mixed())
    (update,) = updates
    watched = [number for number in range(6) if number % 3 != 0]
    assert update == ([bodies[number] for number in watched], [answers[number][0] for number in watched])
