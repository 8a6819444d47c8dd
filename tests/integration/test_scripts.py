"""Every script end to end, as a user runs it: a fresh process, real files, exit codes."""

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from churn.data.synthetic import SURNAMES
from tests.helpers import REPO, env_for

pytestmark = pytest.mark.slow


def run(script: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    """generate -> train -> predict -> retrain, with JSON logs, in a fresh project folder."""
    root = tmp_path_factory.mktemp("project")
    env = env_for(root, CHURN_LOG_JSON="1")
    results = {
        "generate": run("generate_data.py", "--rows", "4000", "--seed", "5", env=env),
        "train": run("train.py", env=env),
        "predict": run("predict_batch.py", env=env),
        "new": run("generate_data.py", "--rows", "2000", "--seed", "6", "--first-id", "17000000",
                   "--out", str(root / "data" / "new.csv"), env=env),
        "retrain": run("retrain.py", "--new-data", str(root / "data" / "new.csv"), env=env),
    }
    return root, env, results


def test_each_script_exits_zero(lifecycle):
    _, _, results = lifecycle
    for name, result in results.items():
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_outputs_exist_and_agree(lifecycle):
    root, _, _ = lifecycle
    customers = pd.read_csv(root / "data" / "customers.csv")
    predictions = pd.read_csv(root / "data" / "predictions.csv")
    assert len(predictions) == 4000
    assert set(predictions["CustomerId"]) <= set(customers["CustomerId"])
    versions = sorted(path.name for path in (root / "models").iterdir() if path.is_dir())
    assert len(versions) == 2
    assert (root / "models" / "latest").read_text().strip() in versions


def test_each_job_keeps_its_metrics_beside_its_output_when_nothing_can_be_pushed(lifecycle):
    root, _, results = lifecycle
    versions = sorted(path for path in (root / "models").iterdir() if path.is_dir())
    textfiles = [versions[0] / "metrics.prom", root / "data" / "predictions.prom",
                 versions[1] / "retraining.prom"]
    assert all(path.is_file() for path in textfiles)
    assert "model_f2_score" in textfiles[0].read_text()
    assert "churn_batch_rows_scored 4000.0" in textfiles[1].read_text()
    for job in ("train", "predict", "retrain"):
        assert results[job].stderr.count("could not push") == 1, job


def test_no_push_skips_the_pushgateway_quietly(lifecycle):
    _, env, _ = lifecycle
    result = run("predict_batch.py", "--no-push", env=env)
    assert result.returncode == 0 and "could not push" not in result.stderr


def test_each_component_logs_json_to_its_own_file(lifecycle):
    root, _, _ = lifecycle
    for component in ("training", "prediction", "retraining", "data"):
        lines = (root / "logs" / f"{component}.log").read_text().splitlines()
        assert lines, component
        assert all(json.loads(line)["component"] == component for line in lines)
    messages = [json.loads(line)["message"] for line in
                (root / "logs" / "training.log").read_text().splitlines()]
    for stage in ("load:", "split:", "tune:", "impute:", "transform:", "smote:", "fit:",
                  "evaluate:", "save:"):
        assert any(message.startswith(stage) for message in messages), stage


def test_no_surname_in_any_log(lifecycle):
    root, _, results = lifecycle
    text = "".join(path.read_text() for path in (root / "logs").glob("*.log"))
    text += "".join(result.stderr + result.stdout for result in results.values())
    assert not [name for name in SURNAMES if re.search(rf"\b{name}\b", text)]


def test_bad_file_gives_one_clear_line_and_changes_nothing(lifecycle, tmp_path):
    root, env, _ = lifecycle
    bad = pd.read_csv(root / "data" / "customers.csv").head(100)
    bad.loc[41, "CreditScore"] = 1200
    bad.to_csv(tmp_path / "bad.csv", index=False)
    models_before = sorted(path.name for path in (root / "models").iterdir())
    predictions_before = (root / "data" / "predictions.csv").read_bytes()

    for script, args in (("train.py", ["--data"]), ("predict_batch.py", ["--data"]),
                         ("retrain.py", ["--new-data"])):
        result = run(script, *args, str(tmp_path / "bad.csv"), env=env)
        assert result.returncode == 1, script
        assert "bad.csv, line 43, column CreditScore: 1200 is not a number from 300 to 900" in (
            result.stderr), script
        assert "Traceback" not in result.stderr
    assert sorted(path.name for path in (root / "models").iterdir()) == models_before
    assert (root / "data" / "predictions.csv").read_bytes() == predictions_before


def test_scoring_without_a_model_says_to_train(tmp_path):
    env = env_for(tmp_path)
    assert_ok(run("generate_data.py", "--rows", "100", env=env))
    result = run("predict_batch.py", env=env)
    assert result.returncode == 1
    assert "no trained model" in result.stderr and "scripts/train.py" in result.stderr


def test_bad_setting_is_reported_before_anything_runs(tmp_path):
    result = run("train.py", env=env_for(tmp_path, CHURN_RISK_HIGH_THRESHOLD="0.2"))
    assert result.returncode == 1
    assert "risk_high_threshold (0.2) must be above risk_medium_threshold (0.5)" in result.stderr
    assert not (tmp_path / "logs").exists()


def test_generate_data_drift_flag_and_help(tmp_path):
    env = env_for(tmp_path)
    assert_ok(run("generate_data.py", "--rows", "3000", "--drift", "--out",
                  str(tmp_path / "drift.csv"), env=env))
    assert pd.read_csv(tmp_path / "drift.csv")["Age"].mean() > 44
    for script in ("generate_data.py", "train.py", "predict_batch.py", "retrain.py"):
        result = run(script, "--help", env=env)
        assert result.returncode == 0 and "usage:" in result.stdout
