"""Every script end to end, as a user runs it: a fresh process, real files, exit codes."""

import json
import os
import re
import shutil
import stat
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


# Faults a user runs into (issue 14): each job ends in one clear line, never a traceback, and
# changes nothing it was not meant to.

def one_line(result: subprocess.CompletedProcess) -> str:
    """The only line on stderr; jobs run at CHURN_LOG_LEVEL=WARNING unless they fail before work."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def modes_and_bytes(folder) -> dict[str, tuple[int, bytes | None]]:
    """Every path under `folder` but the logs, with its mode and content."""
    return {str(path.relative_to(folder)): (stat.S_IMODE(path.stat().st_mode),
                                            path.read_bytes() if path.is_file() else None)
            for path in sorted(folder.rglob("*")) if path.relative_to(folder).parts[0] != "logs"}


@pytest.fixture
def faults(lifecycle, tmp_path):
    """A copy of the lifecycle's project, run at WARNING level: a clean run prints nothing."""
    root, _, _ = lifecycle
    shutil.copytree(root / "models", tmp_path / "models")
    shutil.copytree(root / "data", tmp_path / "data")
    return tmp_path, env_for(tmp_path, CHURN_LOG_LEVEL="WARNING")


def customers_with(root, row: int, column: str, value: str, path) -> None:
    customers = pd.read_csv(root / "data" / "customers.csv", dtype=str, keep_default_na=False)
    customers.head(200).assign(**{column: lambda frame: frame[column].mask(frame.index == row, value)}
                               ).to_csv(path, index=False)


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "1e309"])
def test_infinity_in_a_csv_is_one_line_for_each_job(faults, value):
    root, env = faults
    customers_with(root, 41, "Balance", value, root / "bad.csv")
    before = modes_and_bytes(root / "models") | modes_and_bytes(root / "data")
    sign = "-" if value.startswith("-") else ""
    for script, option in (("train.py", "--data"), ("predict_batch.py", "--data"),
                           ("retrain.py", "--new-data")):
        result = run(script, option, str(root / "bad.csv"), env=env)
        assert result.returncode == 1, script
        assert one_line(result).endswith(
            f"bad.csv, line 43, column Balance: {sign}inf is not a finite number"), script
    assert modes_and_bytes(root / "models") | modes_and_bytes(root / "data") == before


def test_header_only_and_undecodable_files_are_one_line(faults):
    root, env = faults
    lines = (root / "data" / "customers.csv").read_bytes().splitlines(keepends=True)
    (root / "header.csv").write_bytes(lines[0])
    fields = lines[30].split(b",")
    fields[2] = "Müller".encode("latin-1")
    (root / "latin1.csv").write_bytes(b"".join([*lines[:30], b",".join(fields), *lines[31:]]))
    before = modes_and_bytes(root / "data")
    for name, message in (("header.csv", "header.csv: no data rows below the header"),
                          ("latin1.csv", "latin1.csv, line 31, column Surname: not UTF-8 text")):
        result = run("predict_batch.py", "--data", str(root / name), env=env)
        assert result.returncode == 1, name
        assert message in one_line(result), name
    assert modes_and_bytes(root / "data") == before


def test_malformed_files_never_echo_a_surname(faults):
    root, env = faults
    lines = (root / "data" / "customers.csv").read_text().splitlines(keepends=True)
    (root / "no_header.csv").write_text("".join(lines[1:]))
    (root / "shifted.csv").write_text("".join([*lines[:8], lines[8].split(",", 1)[1], *lines[9:]]))
    text = ""
    for name in ("no_header.csv", "shifted.csv"):
        for script in ("train.py", "predict_batch.py"):
            result = run(script, "--data", str(root / name), env=env | {"CHURN_LOG_LEVEL": "INFO"})
            assert result.returncode == 1 and "Traceback" not in result.stderr
            text += result.stderr
    text += "".join(path.read_text() for path in (root / "logs").glob("*.log"))
    assert "is the header row missing" in text and "line 9, column CustomerId: not a number" in text
    assert not [name for name in SURNAMES if re.search(rf"\b{name}\b", text)]


def blocked_by_a_file(root):
    (root / "blocker").write_text("a file where a folder should be\n")
    return root / "blocker"


UNWRITABLE = {
    "predictions.csv is a folder": (
        lambda root: (root / "out.csv").mkdir(), ["predict_batch.py", "--out", "{root}/out.csv"],
        "{root}/out.csv is a folder"),
    "predictions folder is a file": (
        blocked_by_a_file, ["predict_batch.py", "--out", "{root}/blocker/predictions.csv"],
        "cannot write {root}/blocker/predictions.csv: {root}/blocker is a file, not a folder"),
    "read-only predictions": (
        lambda root: (root / "data" / "predictions.csv").chmod(0o444), ["predict_batch.py"],
        "{root}/data/predictions.csv is read-only; make it writable"),
    "models folder is a file": (
        blocked_by_a_file, ["train.py", "CHURN_MODELS_DIR={root}/blocker/models"],
        "cannot write {root}/blocker/models/latest: {root}/blocker is a file, not a folder"),
    "read-only latest": (
        lambda root: (root / "models" / "latest").chmod(0o444),
        ["retrain.py", "--new-data", "{root}/data/new.csv"],
        "{root}/models/latest is read-only; make it writable"),
    "read-only data of a retraining": (
        lambda root: (root / "data" / "customers.csv").chmod(0o400),
        ["retrain.py", "--new-data", "{root}/data/new.csv"],
        "{root}/data/customers.csv is read-only; make it writable"),
    "generated data under a file": (
        blocked_by_a_file, ["generate_data.py", "--out", "{root}/blocker/c.csv"],
        "cannot write {root}/blocker/c.csv: {root}/blocker is a file, not a folder"),
    "export under a file": (
        blocked_by_a_file, ["export_metrics.py", "--out", "{root}/blocker/m.csv"],
        "cannot write {root}/blocker/m.csv: {root}/blocker is a file, not a folder"),
    "report is a folder": (
        lambda root: (root / "r.html").mkdir(),
        ["drift_report.py", "--current", "{root}/data/new.csv", "--out", "{root}/r.html"],
        "{root}/r.html is a folder"),
}


@pytest.mark.parametrize("case", UNWRITABLE)
def test_an_output_that_cannot_be_written_is_found_before_the_work(faults, case):
    """At INFO level: the error is the only line, so no stage of the work was even logged."""
    root, env = faults
    prepare, command, message = UNWRITABLE[case]
    prepare(root)
    before = modes_and_bytes(root)
    args = [arg.format(root=root) for arg in command]
    settings = dict(arg.split("=", 1) for arg in args if "=" in arg)
    result = run(args[0], *[arg for arg in args[1:] if "=" not in arg],
                 env=env | {"CHURN_LOG_LEVEL": "INFO"} | settings)
    assert result.returncode == 1
    assert f"| ERROR    | {message.format(root=root)}" in one_line(result)
    assert modes_and_bytes(root) == before


@pytest.mark.parametrize("script", ["train.py", "predict_batch.py", "serve.py"])
def test_logs_that_cannot_be_written_are_found_at_start_up(faults, script):
    root, env = faults
    component = {"train.py": "training", "predict_batch.py": "prediction", "serve.py": "api"}[script]
    (root / "logs").mkdir()
    (root / "logs" / f"{component}.log").write_text("yesterday's lines\n")
    (root / "logs" / f"{component}.log").chmod(0o444)
    blocked_by_a_file(root)
    before = modes_and_bytes(root)
    for logs_dir, message in ((root / "logs", f"{root}/logs/{component}.log is read-only"),
                              (root / "blocker" / "logs",
                               f"cannot write {root}/blocker/logs/{component}.log: {root}/blocker "
                               "is a file, not a folder")):
        result = run(script, env=env | {"CHURN_LOGS_DIR": str(logs_dir)})
        assert result.returncode == 1
        assert one_line(result).startswith(f"error: {message}")
    assert modes_and_bytes(root) == before
    assert (root / "logs" / f"{component}.log").read_text() == "yesterday's lines\n"


def test_a_pushgateway_url_that_is_not_a_url_warns_and_keeps_the_predictions(faults):
    root, env = faults
    (root / "data" / "predictions.csv").unlink()
    result = run("predict_batch.py", env=env | {"CHURN_PUSHGATEWAY_URL": "http://[not-a-url"})
    assert result.returncode == 0
    assert "could not push churn-batch-prediction metrics to the Pushgateway at http://[not-a-url " in (
        one_line(result))
    assert len(pd.read_csv(root / "data" / "predictions.csv")) == len(
        pd.read_csv(root / "data" / "customers.csv"))


def test_files_others_read_get_the_mode_open_would_give(lifecycle):
    root, _, _ = lifecycle
    umask = os.umask(0)
    os.umask(umask)
    latest = (root / "models" / "latest").read_text().strip()
    for path in ("data/customers.csv", "data/predictions.csv", "data/predictions.prom",
                 "models/latest", f"models/{latest}/model.joblib", f"models/{latest}/metadata.json"):
        assert stat.S_IMODE((root / path).stat().st_mode) == 0o666 & ~umask, path
