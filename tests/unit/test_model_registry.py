"""The registry saves complete versions only and refuses artifacts it cannot trust."""

import json
import os
import pickle
import shutil
import time
from pathlib import Path

import pytest

from churn.errors import ModelLoadError
from churn.files import STALE_TEMPORARY_SECONDS
from churn.model.registry import (
    ARTIFACT,
    METADATA,
    latest_version,
    load_model,
    promote,
    read_metadata,
    save_model,
)


@pytest.fixture
def registry(trained_project, tmp_path) -> tuple[Path, str]:
    """A private copy of the trained project's registry, free to damage."""
    models = tmp_path / "models"
    shutil.copytree(trained_project.models_dir, models)
    return models, latest_version(models)


def test_round_trip_gives_the_same_scores(registry, trained_project):
    import pandas as pd

    models, version = registry
    original = load_model(trained_project.models_dir)
    copy = load_model(models, version)
    rows = pd.read_csv(trained_project.data_path).head(20)[trained_project.features]
    assert (copy.pipeline.predict_proba(rows) == original.pipeline.predict_proba(rows)).all()
    assert copy.metadata == original.metadata


def test_save_does_not_move_latest_and_promote_does(registry, trained_project):
    models, version = registry
    pipeline = load_model(models).pipeline
    new_version = save_model(models, pipeline, {"note": "candidate"})
    assert new_version != version
    assert latest_version(models) == version
    promote(models, new_version)
    assert latest_version(models) == new_version
    assert read_metadata(models, new_version)["note"] == "candidate"


def test_two_saves_in_the_same_second_get_distinct_versions(registry):
    models, _ = registry
    pipeline = load_model(models).pipeline
    first, second = save_model(models, pipeline, {}), save_model(models, pipeline, {})
    assert first != second and (models / first).is_dir() and (models / second).is_dir()


def test_a_killed_trainings_staging_folder_is_removed_once_stale(registry):
    models, _ = registry
    stale, fresh = models / ".staging-20261101-101010-4242", models / ".staging-20261130-090000-77"
    for folder, age in ((stale, STALE_TEMPORARY_SECONDS + 60), (fresh, 5)):
        folder.mkdir()
        (folder / ARTIFACT).write_bytes(b"half written")
        then = time.time() - age
        os.utime(folder, (then, then))
    save_model(models, load_model(models).pipeline, {})
    assert not stale.exists()
    assert fresh.exists()  # may be another training, writing now


def test_failed_save_leaves_no_folder_and_latest_untouched(registry):
    models, version = registry
    before = sorted(path.name for path in models.iterdir())
    with pytest.raises(pickle.PicklingError):
        save_model(models, lambda: None, {})  # a lambda cannot be pickled
    assert sorted(path.name for path in models.iterdir()) == before
    assert latest_version(models) == version


def test_promoting_an_unknown_version_is_refused(registry):
    models, version = registry
    with pytest.raises(ModelLoadError, match="not a saved model"):
        promote(models, "19990101-000000")
    assert latest_version(models) == version


def test_corrupted_artifact_is_refused(registry):
    models, version = registry
    artifact = models / version / ARTIFACT
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="corrupted or truncated"):
        load_model(models)


def test_truncated_artifact_is_refused(registry):
    models, version = registry
    artifact = models / version / ARTIFACT
    artifact.write_bytes(artifact.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="corrupted or truncated"):
        load_model(models)


def test_artifact_from_other_library_versions_is_refused(registry):
    models, version = registry
    path = models / version / METADATA
    metadata = json.loads(path.read_text())
    metadata["library_versions"]["scikit-learn"] = "0.24.2"
    path.write_text(json.dumps(metadata))
    with pytest.raises(ModelLoadError, match=r"trained with scikit-learn 0.24.2 but .* installed"):
        load_model(models)


def test_missing_or_broken_metadata_is_refused(registry):
    models, version = registry
    (models / version / METADATA).write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(models)
    (models / version / METADATA).unlink()
    with pytest.raises(ModelLoadError, match="metadata.json is missing"):
        load_model(models)


def test_empty_registry_says_to_train_first(tmp_path):
    with pytest.raises(ModelLoadError, match="run scripts/train.py first"):
        load_model(tmp_path / "models")
