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
    assert page.count('distributions">') == len(rows) == 11  # ten features and the score
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


@pytest.mark.parametrize(("content", "expected"), [
    ("CustomerId,Age\n1,30\n", "bad.csv, line 1, column CreditScore: required column missing"),
    (None, "bad.csv: file not found"),
    ("", "bad.csv: the file is empty"),
    (b"CustomerId,Surname\n1,M\xfcller\n", "bad.csv, line 2, column Surname: not UTF-8 text"),
])
def test_a_bad_file_is_one_clear_error_and_no_page(project, content, expected):
    if isinstance(content, bytes):
        (project / "bad.csv").write_bytes(content)
    elif content is not None:
        (project / "bad.csv").write_text(content)
    result = report(project, "--current", str(project / "bad.csv"), "--out", str(project / "r.html"))
    assert result.returncode == 1
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not (project / "r.html").exists()


def test_only_features_count_as_drifted_as_for_the_api(project):
    """Stable customers whose scores all moved: the score's PSI is shown, but no feature drifted."""
    samples = write_samples(project, generate(600, seed=64), churn_probability=0.99)
    result = report(project, "--current", str(samples), "--out", str(project / "s.html"))
    assert result.returncode == 0, result.stderr
    assert dict(verdicts((project / "s.html").read_text()))["score"] == "drift"
    assert "0 drifted (none)" in result.stderr


def reliability_tables(page: str) -> dict[str, list[tuple[float, float, int]]]:
    """Each reliability diagram's title and its rows: (mean score, churn rate, customers)."""
    sections = re.findall(r'<h3>([^<]+)</h3><svg[^>]*aria-label="reliability diagram".*?</table>',
                          page, flags=re.DOTALL)
    return {title: [(float(mean), float(rate), int(count)) for mean, rate, count in re.findall(
        r"<tr><td>[\d.]+-[\d.]+</td><td>([\d.]+)</td><td>([\d.]+)</td><td>(\d+)</td></tr>",
        page.split(f"<h3>{title}</h3>")[1].split("</table>")[0])] for title in sections}


def test_reliability_is_drawn_for_the_test_split_and_for_a_file_that_says_who_left(project):
    generate(4000, seed=65).to_csv(project / "labelled.csv", index=False)
    result = report(project, "--current", str(project / "labelled.csv"), "--out", str(project / "r.html"))
    assert result.returncode == 0, result.stderr
    tables = reliability_tables((project / "r.html").read_text())
    (tested, tested_rows), (on_file, file_rows) = tables.items()
    assert tested.endswith("on its test split") and on_file.endswith("on labelled.csv")
    assert len(tested_rows) >= 5  # the scores spread over the range, not in one bin
    assert sum(count for _, _, count in file_rows) == 4000
    # Calibrated on this population: over the file, the mean score is the churn rate, give or take.
    customers = sum(count for _, _, count in file_rows)
    mean = sum(score * count for score, _, count in file_rows) / customers
    rate = sum(churned * count for _, churned, count in file_rows) / customers
    assert abs(mean - rate) < 0.03


def test_input_samples_say_nobody_left_so_only_the_test_split_is_drawn(project):
    samples = write_samples(project, generate(400, seed=66), churn_probability=0.4)
    result = report(project, "--current", str(samples), "--out", str(project / "s.html"))
    assert result.returncode == 0, result.stderr
    assert [title.endswith("on its test split")
            for title in reliability_tables((project / "s.html").read_text())] == [True]
