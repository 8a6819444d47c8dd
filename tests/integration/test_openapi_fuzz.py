"""Schemathesis against the real server: every operation of the OpenAPI document, fuzzed.

All of its checks run: no 5xx, only documented status codes and content types, answers that
match their schemas, schema-valid bodies accepted and schema-invalid ones refused. The seed is
fixed so a failure here fails the same way on every run; `st run` with another seed (see the
README of tests/) tries new cases.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from churn.batch import predict_batch
from churn.data.synthetic import generate
from churn.ops.native_stack import wait_until
from tests.helpers import REPO, env_for, settings_for
from tests.integration.processes import answers, free_port, running

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token"
SCHEMATHESIS = Path(sys.executable).with_name("st")


@pytest.fixture
def project(trained_project, tmp_path):
    """Customers 1 to 3000, so the fuzzer's small ids find some of them."""
    shutil.copytree(trained_project.models_dir, tmp_path / "models")
    settings = settings_for(tmp_path)
    settings.data_path.parent.mkdir()
    generate(3000, seed=8, first_id=1).to_csv(settings.data_path, index=False)
    predict_batch(settings)
    return tmp_path


def test_schemathesis_finds_no_server_error_and_no_mismatch(project):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(port)]
    with running(command, env_for(project, CHURN_ADMIN_TOKEN=TOKEN), project / "serve.out") as process:
        wait_until(answers(f"{base}/ready"), "API ready", process=process)
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", f"{base}/openapi.json", "--checks", "all",
             "--max-examples", "150", "--seed", "14", "--header", f"Authorization: Bearer {TOKEN}",
             "--no-color"],
            capture_output=True, text=True, timeout=600, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Operations:       9 selected / 9 total" in report
    assert "Traceback" not in (project / "serve.out").read_text()
