"""monitoring/slo.yml and the rules generated from it agree, and keep to the catalogue."""

import re
import subprocess
import sys

import yaml

from churn.metrics import LATENCY_BUCKETS
from churn.ops.slo import SPEC, rendered
from tests.helpers import REPO


def test_the_generated_rules_are_not_stale():
    result = subprocess.run([sys.executable, "-m", "churn.ops.slo", "--check"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_a_changed_objective_changes_the_rules(tmp_path):
    spec = yaml.safe_load(SPEC.read_text())
    spec["slos"]["availability"]["objective"] = 0.999
    (tmp_path / "slo.yml").write_text(yaml.safe_dump(spec))
    text = rendered(tmp_path / "slo.yml")
    assert "vector(0.999)" in text and "(14.4 * 0.001)" in text
    assert text != rendered()


def test_every_sli_has_the_sloth_windows_and_records():
    rules = yaml.safe_load(rendered())["groups"]
    spec = yaml.safe_load(SPEC.read_text())
    for slo in spec["slos"]:
        records = {(rule["record"], rule["labels"]["slo"]) for group in rules
                   for rule in group["rules"] if "record" in rule}
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
            assert (f"slo:sli_error:ratio_rate{window}", slo) in records
        for name in ("objective", "error_budget", "current_burn_rate", "period_error_budget_remaining"):
            assert (f"slo:{name}:ratio", slo) in records


def test_latency_thresholds_are_bucket_boundaries():
    text = SPEC.read_text()
    thresholds = [float(value) for value in re.findall(r'le="([0-9.]+)"', text)]
    assert thresholds and all(threshold in LATENCY_BUCKETS for threshold in thresholds)
