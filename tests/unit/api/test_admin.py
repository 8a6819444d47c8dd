"""POST /admin/reload: guarded by a token, swaps model and metrics, survives a bad model."""

import gc
import weakref

from churn.model.registry import latest_version
from churn.model.training import train
from tests.helpers import settings_for
from tests.unit.api.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def model_info(registry, version):
    return registry.get_sample_value(
        "model_info", {"version": version, "algorithm": "hist_gradient_boosting"})


def test_reload_is_absent_without_a_token(make_client):
    assert make_client().post("/admin/reload", headers=AUTH).status_code == 404


def test_reload_refuses_a_missing_or_wrong_token(client):
    assert client.post("/admin/reload").status_code == 401
    answer = client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401 and answer.json() == {"detail": "missing or wrong bearer token"}


def test_reload_takes_the_bearer_scheme_in_any_case(client):
    for scheme in ("bearer", "BEARER", "BeArEr"):
        answer = client.post("/admin/reload", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert answer.status_code == 200, scheme
    for wrong in (f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"):
        assert client.post("/admin/reload", headers={"Authorization": wrong}).status_code == 401


def test_reload_serves_the_new_latest_model(client, project, registry):
    old = latest_version(project / "models")
    assert model_info(registry, old) == 1
    new = train(settings_for(project)).version
    answer = client.post("/admin/reload", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["model_version"] == new and answer.json()["previous_version"] == old
    assert client.get("/model").json()["version"] == new
    assert model_info(registry, new) == 1
    assert model_info(registry, old) is None  # the old version's series is gone


def test_failed_reload_keeps_the_old_model_serving(client, project, registry):
    old = latest_version(project / "models")
    (project / "models" / "latest").write_text("20000101-000000\n")
    answer = client.post("/admin/reload", headers=AUTH)
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith(f"reload failed, still serving model {old}")
    assert str(project) not in answer.text and "/models/" not in answer.text
    assert client.get("/model").json()["version"] == old
    assert client.get("/ready").json()["status"] == "ready"
    assert model_info(registry, old) == 1


def test_a_reload_frees_the_service_it_replaces(client):
    """Neither the start-up code nor the garbage collector's freeze may keep the old model: a
    classroom reloading a few times would otherwise hold every model it ever served."""
    replaced = weakref.ref(client.app.state.api.service)
    assert client.post("/admin/reload", headers=AUTH).status_code == 200
    gc.collect()
    assert replaced() is None
    assert gc.get_freeze_count() > 0  # the new service is frozen out of the collector's way
