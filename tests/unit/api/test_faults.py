"""The demo fault switch: absent unless asked for, injected answers counted and logged as such,
every fault visible on the gauge, ended by its expiry, shared by every process of the checkout."""

import time

import pytest
from fastapi.testclient import TestClient
from loguru import logger
from prometheus_client import CollectorRegistry

from churn.api.app import create_app
from churn.api.faults import INJECTED
from churn.ops.native_stack import wait_until
from tests.helpers import settings_for
from tests.unit.api.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHURN = "/churn/{customer_id}"


def injected(registry, kind):
    return registry.get_sample_value("api_fault_injected", {"kind": kind})


@pytest.fixture
def demo(make_client):
    return make_client(admin_token=TOKEN, demo_faults=True)


@pytest.fixture
def known_id(predictions):
    return int(predictions.index[0])


def another_app(project, registry, **overrides) -> TestClient:
    """A second app over the same project: another process, as far as the switch can tell."""
    return TestClient(create_app(settings_for(project, **overrides), registry))


@pytest.mark.parametrize("overrides", [{"admin_token": TOKEN}, {"demo_faults": True}])
def test_no_switch_unless_demo_faults_and_a_token(project, overrides):
    registry = CollectorRegistry()
    with another_app(project, registry, **overrides) as client:
        assert client.post("/admin/faults", json={"error_share": 1}, headers=AUTH).status_code == 404
    assert injected(registry, "errors") == injected(registry, "latency") == 0


def test_the_switch_needs_the_token(demo):
    assert demo.get("/admin/faults").status_code == 401
    assert demo.post("/admin/faults", json={"error_share": 1},
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert demo.get("/admin/faults", headers=AUTH).json() == {"faults": []}


def test_injected_errors_are_500s_counted_shown_and_logged(demo, registry, project, known_id):
    answer = demo.post("/admin/faults", json={"error_share": 1, "minutes": 5}, headers=AUTH)
    (fault,) = answer.json()["faults"]
    assert fault["kind"] == "errors" and fault["value"] == 1 and 299 < fault["seconds_left"] <= 300
    assert injected(registry, "errors") == 1
    failed = demo.get(f"/churn/{known_id}")
    assert failed.status_code == 500 and failed.json() == {"detail": INJECTED}
    assert demo.get("/health").status_code == 200  # only the scoring routes fail
    assert registry.get_sample_value("api_requests_total", {
        "method": "GET", "endpoint": CHURN, "status_code": "500"}) == 1
    logger.complete()
    log = (project / "logs" / "api.log").read_text()
    assert "demo fault errors on: 1 of requests answered 500" in log
    assert f"GET {CHURN} 500" in log and "fault=errors" in log

    assert demo.delete("/admin/faults", headers=AUTH).json() == {"faults": []}
    assert demo.get(f"/churn/{known_id}").status_code == 200
    assert injected(registry, "errors") == 0


def test_injected_latency_delays_the_scoring_routes(demo, registry, known_id):
    demo.post("/admin/faults", json={"latency_seconds": 0.4}, headers=AUTH)
    assert injected(registry, "latency") == 0.4
    started = time.perf_counter()
    assert demo.get(f"/churn/{known_id}").status_code == 200
    assert time.perf_counter() - started >= 0.4


def test_a_change_leaves_the_other_kind_alone(demo):
    demo.post("/admin/faults", json={"error_share": 0.2}, headers=AUTH)
    demo.post("/admin/faults", json={"latency_seconds": 1}, headers=AUTH)
    kinds = {fault["kind"]: fault["value"] for fault in demo.get(
        "/admin/faults", headers=AUTH).json()["faults"]}
    assert kinds == {"errors": 0.2, "latency": 1}
    demo.post("/admin/faults", json={"latency_seconds": 0}, headers=AUTH)
    assert [fault["kind"] for fault in demo.get("/admin/faults", headers=AUTH).json()["faults"]] == [
        "errors"]


@pytest.mark.parametrize("body", [{"error_share": 1.5}, {"error_share": -0.1},
                                  {"latency_seconds": 31}, {"minutes": 0}, {"minutes": 61},
                                  {"error_share": "half"}, {"errors": 1}])
def test_an_impossible_fault_is_422_and_changes_nothing(demo, registry, body):
    answer = demo.post("/admin/faults", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert demo.get("/admin/faults", headers=AUTH).json() == {"faults": []}
    assert injected(registry, "errors") == injected(registry, "latency") == 0


def test_a_fault_ends_by_itself_and_its_gauge_falls_to_zero(demo, registry, known_id):
    demo.post("/admin/faults", json={"error_share": 1, "minutes": 0.02}, headers=AUTH)  # 1.2 s
    assert injected(registry, "errors") == 1
    # No request needed: the watcher notices the expiry.
    wait_until(lambda: injected(registry, "errors") == 0, "fault expired", timeout=10)
    assert demo.get(f"/churn/{known_id}").status_code == 200


def test_every_process_sharing_the_logs_folder_applies_the_same_faults(demo, project):
    other_registry = CollectorRegistry()
    with another_app(project, other_registry, admin_token=TOKEN, demo_faults=True):
        demo.post("/admin/faults", json={"latency_seconds": 2}, headers=AUTH)
        wait_until(lambda: injected(other_registry, "latency") == 2, "other process sees it",
                   timeout=10)
        demo.delete("/admin/faults", headers=AUTH)
        wait_until(lambda: injected(other_registry, "latency") == 0, "other process clears it",
                   timeout=10)


def test_faults_that_cannot_be_saved_are_a_503_and_change_nothing(demo, registry, project):
    (project / "logs" / "demo-faults.json").mkdir()  # where the switch saves them for the others
    answer = demo.post("/admin/faults", json={"error_share": 1}, headers=AUTH)
    assert answer.status_code == 503
    assert answer.json()["detail"] == ("demo faults not changed: demo-faults.json is a folder; "
                                       "give the path of a file to write")
    assert injected(registry, "errors") == 0
    assert demo.delete("/admin/faults", headers=AUTH).status_code == 503
