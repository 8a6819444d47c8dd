"""The model registry: one folder per version under models/, and a `latest` pointer file.

A version folder is assembled under a hidden staging name and renamed into place only once the
artifact and its metadata are complete; `latest` is replaced atomically after that. Loading
checks the artifact's sha256 and the library versions before unpickling anything.
"""

import json
import os
import platform
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import joblib
from loguru import logger

from churn.errors import ModelLoadError
from churn.files import remove_stale, sha256_of, write_text_atomic

ARTIFACT = "model.joblib"
METADATA = "metadata.json"
LATEST = "latest"
# A version folder is written here first; one left by a killed training is removed when stale.
STAGING = ".staging-"
# Pickles are only safe to load with the exact versions that wrote them.
PINNED_LIBRARIES = ("scikit-learn", "imbalanced-learn")


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Any
    metadata: dict

    @property
    def version(self) -> str:
        return self.metadata["version"]


def library_versions() -> dict[str, str]:
    libraries = ("scikit-learn", "imbalanced-learn", "numpy", "pandas", "joblib")
    return {"python": platform.python_version()} | {name: installed_version(name) for name in libraries}


def _new_version(models_dir: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    version, suffix = stamp, 1
    while (models_dir / version).exists():
        suffix += 1
        version = f"{stamp}-{suffix}"
    return version


def save_model(models_dir: Path, pipeline: Any, metadata: dict) -> str:
    """Writes a complete new version folder and returns its name; `latest` is not touched."""
    models_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(models_dir, lambda name: name.startswith(STAGING))
    version = _new_version(models_dir)
    staging = models_dir / f"{STAGING}{version}-{os.getpid()}"
    staging.mkdir()
    try:
        artifact = staging / ARTIFACT
        joblib.dump(pipeline, artifact)
        record = {
            "version": version,
            **metadata,
            "artifact": {"file": ARTIFACT, "sha256": sha256_of(artifact),
                         "bytes": artifact.stat().st_size},
            "library_versions": library_versions(),
        }
        (staging / METADATA).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        staging.rename(models_dir / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return version


def promote(models_dir: Path, version: str) -> None:
    """Points `latest` at a saved version; readers see the old or the new pointer, nothing else."""
    if not (models_dir / version / METADATA).is_file():
        raise ModelLoadError(f"cannot promote {version}: {models_dir / version} is not a saved model")
    write_text_atomic(models_dir / LATEST, version + "\n")


def latest_version(models_dir: Path) -> str:
    pointer = models_dir / LATEST
    if not pointer.is_file():
        raise ModelLoadError(f"no trained model in {models_dir} (run scripts/train.py first)")
    return pointer.read_text(encoding="utf-8").strip()


def read_metadata(models_dir: Path, version: str) -> dict:
    path = models_dir / version / METADATA
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"model {version}: {path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"model {version}: {path} is not valid JSON ({exc})") from None


def load_model(models_dir: Path, version: str | None = None) -> LoadedModel:
    """The verified pipeline and metadata of `version` (default: latest), or ModelLoadError."""
    version = version or latest_version(models_dir)
    metadata = read_metadata(models_dir, version)
    artifact = models_dir / version / metadata.get("artifact", {}).get("file", ARTIFACT)
    if not artifact.is_file():
        raise ModelLoadError(f"model {version}: artifact {artifact} is missing")
    expected = metadata.get("artifact", {}).get("sha256")
    if sha256_of(artifact) != expected:
        raise ModelLoadError(
            f"model {version}: {artifact} is corrupted or truncated (sha256 differs from "
            f"metadata.json); retrain with scripts/train.py")
    recorded = metadata.get("library_versions", {})
    for library in PINNED_LIBRARIES:
        if recorded.get(library) != installed_version(library):
            raise ModelLoadError(
                f"model {version} was trained with {library} {recorded.get(library)} but "
                f"{installed_version(library)} is installed; retrain with scripts/train.py")
    try:
        pipeline = joblib.load(artifact)
    except Exception as exc:
        raise ModelLoadError(f"model {version}: {artifact} cannot be loaded ({exc})") from None
    logger.bind(version=version).debug("model {} loaded from {}", version, artifact)
    return LoadedModel(pipeline=pipeline, metadata=metadata)
