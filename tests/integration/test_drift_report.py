"""scripts/drift_report.py as a user runs it: a page that opens offline and leads with the drift."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from churn.data.synthetic import generate
from tests.helpers import REPO, env_for

pytestmark = pytest.mark.slow


@pytest.fixture
def project(scored_project, tmp_path):
    shutil.copytree(scored_project, tmp_path / "project")
    return tmp_path / "project"


def report(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "drift_report.py"), *args],
                          env=env_for(project), capture_output=True, text=True, timeout=120, check=False)


def write_samples(project, customers, churn_probability: float):
    """logs/input_samples.jsonl as the API writes it: complete inputs and the score they got."""
    frame = customers.dropna().drop(columns=["Surname", "Exited"])
    samples = project / "logs" / "input_samples.jsonl"
    samples.parent.mkdir(exist_ok=True)
    samples.write_text("".join(json.dumps(row | {"churn_probability": churn_probability}) + "\n"
                               for row in frame.to_dict("records")))
    return samples


def verdicts(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr><td><a href="#([^"]+)">[^<]+</a></td><td>[\d.]+</td><td[^>]*>(\w+)</td>', page)


def test_drifted_file_leads_with_its_drifted_features(project):
    generate(3000, seed=61, drift=True).to_csv(project / "drifted.csv", index=False)
    result = report(project, "--current", str(project / "drifted.csv"), "--out", str(project / "r.html"))
    assert result.returncode == 0, result.stderr
    page = (project / "r.html").read_text()
    rows = verdicts(page)
    assert rows[0] == ("Age", "drift")
    assert dict(rows)["Gender"] == "stable" and dict(rows)["HasCrCard"] == "stable"
    assert page.count("<svg") == len(rows) == 11  # ten features and the score
    # Self-contained: no scripts, no external resources.
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)


def test_same_population_is_stable_against_a_csv_reference(project):
    generate(3000, seed=62).to_csv(project / "same.csv", index=False)
    result = report(project, "--current", str(project / "same.csv"), "--reference",
                    str(project / "data" / "customers.csv"), "--out", str(project / "r.html"))
    assert result.returncode == 0, result.stderr
    assert all(word != "drift" for _, word in verdicts((project / "r.html").read_text()))


def test_input_samples_of_the_api_can_be_reported(project):
    samples = write_samples(project, generate(400, seed=63, drift=True), churn_probability=0.4)
    result = report(project, "--current", str(samples), "--out", str(project / "s.html"))
    assert result.returncode == 0, result.stderr
    assert verdicts((project / "s.html").read_text())[0][0] in {"Age", "score"}


def test_a_bad_file_is_one_clear_error_and_no_page(project):
    (project / "bad.csv").write_text("CustomerId,Age\n1,30\n")
    result = report(project, "--current", str(project / "bad.csv"), "--out", str(project / "r.html"))
    assert result.returncode == 1
    assert "bad.csv, line 1, column CreditScore: required column missing" in result.stderr
    assert not (project / "r.html").exists()


def test_only_features_count_as_drifted_as_for_the_api(project):
    """Stable customers whose scores all moved: the score's PSI is shown, but no feature drifted."""
    samples = write_samples(project, generate(600, seed=64), churn_probability=0.99)
    result = report(project, "--current", str(samples), "--out", str(project / "s.html"))
    assert result.returncode == 0, result.stderr
    assert dict(verdicts((project / "s.html").read_text()))["score"] == "drift"
    assert "0 drifted (none)" in result.stderr
