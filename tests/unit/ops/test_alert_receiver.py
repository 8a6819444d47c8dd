"""The receiver appends real Alertmanager notifications and refuses anything else."""

import json

import pytest
from fastapi.testclient import TestClient

from churn import logs
from churn.ops.alert_receiver import ALERTS, create_receiver_app

NOTIFICATION = {
    "version": "4", "groupKey": '{}:{alertname="ApiDown"}', "status": "firing",
    "receiver": "critical", "groupLabels": {"alertname": "ApiDown"},
    "commonLabels": {"alertname": "ApiDown", "severity": "critical"},
    "commonAnnotations": {"summary": "The churn API is down"},
    "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
    "alerts": [{"status": "firing", "labels": {"alertname": "ApiDown", "severity": "critical"},
                "annotations": {"summary": "The churn API is down"},
                "startsAt": "2026-11-22T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph", "fingerprint": "abc"}],
}


@pytest.fixture
def receiver(settings):
    logs.setup("alerts", settings)  # as run_job does: the sink of logs/alerts.jsonl
    return TestClient(create_receiver_app(settings)), settings.logs_dir / f"{ALERTS}.jsonl"


def test_each_notification_is_one_json_line(receiver):
    client, path = receiver
    for status in ("firing", "resolved"):
        answer = client.post("/alerts", json=NOTIFICATION | {"status": status})
        assert answer.status_code == 200 and answer.json() == {"alerts": 1}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["firing", "resolved"]
    assert lines[0]["receiver"] == "critical"
    assert lines[0]["alerts"][0]["labels"]["alertname"] == "ApiDown"
    assert "received_at" in lines[0]


@pytest.mark.parametrize("body", [
    {"hello": "world"},
    NOTIFICATION | {"status": "exploded"},
    NOTIFICATION | {"alerts": [{"labels": {}}]},
    [],
])
def test_anything_else_is_400_and_writes_nothing(receiver, body):
    client, path = receiver
    answer = client.post("/alerts", json=body)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("not an Alertmanager webhook notification")
    assert not path.exists()


def test_not_json_is_400(receiver):
    client, path = receiver
    answer = client.post("/alerts", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 400 and not path.exists()


def test_health_answers(receiver):
    client, _ = receiver
    assert client.get("/health").json() == {"status": "ok"}


def test_runbooks_are_served_by_name_and_listed(settings):
    client = TestClient(create_receiver_app(settings))
    page = client.get("/runbooks/api-down")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert page.text == (settings.runbooks_dir / "api-down.md").read_text(encoding="utf-8")
    assert client.get("/runbooks/api-down.md").text == page.text
    index = client.get("/runbooks/").text
    assert "/runbooks/api-down\n" in index and "/runbooks/data-drift\n" in index


@pytest.mark.parametrize("name", ["nothing-here", "..%2Fapi-down", "%2e%2e%2fREADME"])
def test_an_unknown_runbook_is_404_and_reads_no_file(settings, name):
    answer = TestClient(create_receiver_app(settings)).get(f"/runbooks/{name}")
    assert answer.status_code == 404 and "detail" in answer.json()
