"""The drift report: one self-contained HTML page comparing current data with the training data.

Per feature, the reference and current shares of every bin side by side as an inline SVG chart,
the PSI and a verdict, the most drifted first. Then the model's reliability diagram: mean score
against observed churn rate per score bin, on its test split and, when the file says who left,
on the file. No scripts, no fonts, no network: it opens from a file anywhere.
"""

import html
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from loguru import logger

from churn.data import load_customers
from churn.drift import SCORE, Binning, Drift, build_profile
from churn.errors import DataValidationError
from churn.files import check_writable, write_text_atomic
from churn.model.evaluation import reliability
from churn.model.registry import LoadedModel, load_model
from churn.model.scoring import check_features
from churn.settings import Settings

SAMPLES_SCORE = "churn_probability"
REFERENCE_COLOUR, CURRENT_COLOUR = "#4c78a8", "#f58518"


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    labels: list[str]
    reference: np.ndarray
    current: np.ndarray
    psi: float


def bin_labels(spec: dict) -> list[str]:
    if spec["kind"] == "categorical":
        return [*spec["categories"], "unseen", "missing"]
    edges = [f"{edge:g}" for edge in spec["edges"]]
    if not edges:
        return ["all", "missing"]
    middle = [f"{low} to {high}" for low, high in itertools.pairwise(edges)]
    return [f"≤ {edges[0]}", *middle, f"> {edges[-1]}", "missing"]


def _says_who_left(path: Path, settings: Settings) -> bool:
    """Whether a customers file has the target column. A file pandas cannot read says no, and
    the validating reader then names what is wrong with it."""
    try:
        return settings.target_column in pd.read_csv(path, nrows=0).columns
    except (ValueError, OSError):  # pandas' parser errors are ValueErrors, as is a bad encoding
        return False


def read_current(path: Path, settings: Settings, model: LoadedModel) -> pd.DataFrame:
    """A customers CSV (validated, then scored) or the API's input samples (.jsonl, already scored)."""
    if path.suffix == ".jsonl":
        if not path.is_file():
            raise DataValidationError(path, "file not found")
        try:
            frame = pd.read_json(path, lines=True)
        except ValueError as exc:
            raise DataValidationError(path, f"not JSON lines ({exc})") from None
        missing = [name for name in [*settings.features, SAMPLES_SCORE] if name not in frame.columns]
        if frame.empty or missing:
            raise DataValidationError(path, f"no input samples with columns {missing or 'any'}")
        return frame.rename(columns={SAMPLES_SCORE: SCORE})
    frame = load_customers(path, settings, with_target=_says_who_left(path, settings))
    return frame.assign(**{SCORE: model.pipeline.predict_proba(frame[settings.features])[:, 1]})


def measure(binning: Binning, profile: dict, current: pd.DataFrame) -> tuple[Drift, list[FeatureDrift]]:
    """The drift of `current`, and a chart's worth of bins for each feature and the score."""
    counts = binning.counts(binning.bins({name: current[name].to_numpy() for name in binning.columns}))
    drift = binning.drift(counts)
    values = drift.features | {SCORE: drift.score}
    specs = profile["features"] | {SCORE: profile["score"]}
    drifts = []
    for row, name in enumerate(binning.columns):
        labels = bin_labels(specs[name])
        width = len(labels) if specs[name]["kind"] == "categorical" else len(specs[name]["proportions"])
        shares = counts[row] / max(counts[row].sum(), 1)
        drifts.append(FeatureDrift(name, labels[:width], binning.expected[row, :width],
                                   shares[:width], values[name]))
    return drift, sorted(drifts, key=lambda chart: -chart.psi)


def verdict(value: float, settings: Settings) -> tuple[str, str]:
    if value >= settings.drift_psi_threshold:
        return "drift", "#d62728"
    if value >= settings.drift_psi_warning:
        return "watch", "#ff7f0e"
    return "stable", "#2ca02c"


def chart(drift: FeatureDrift) -> str:
    """Paired bars per bin: reference then current, heights in share of rows."""
    bar, gap, height = 14, 10, 120
    top = max(float(drift.reference.max()), float(drift.current.max()), 1e-9)
    width = len(drift.labels) * (2 * bar + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 70}" '
             f'role="img" aria-label="{html.escape(drift.name)} distributions">']
    for index, label in enumerate(drift.labels):
        x = gap + index * (2 * bar + gap)
        for offset, share, colour in ((0, drift.reference[index], REFERENCE_COLOUR),
                                      (bar, drift.current[index], CURRENT_COLOUR)):
            h = height * float(share) / top
            parts.append(f'<rect x="{x + offset}" y="{height - h:.1f}" width="{bar - 1}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{html.escape(label)}: '
                         f'{float(share):.1%}</title></rect>')
        parts.append(f'<text x="{x + bar}" y="{height + 12}" font-size="10" text-anchor="end" '
                     f'transform="rotate(-40 {x + bar} {height + 12})">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def reliability_chart(table: list[dict], colour: str) -> str:
    """Observed churn rate against mean score per score bin, on the diagonal a calibrated model
    keeps to; each point's area in proportion to its customers."""
    size, margin = 240, 30
    largest = max(row["count"] for row in table)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 2 * margin}" '
             f'height="{size + 2 * margin}" role="img" aria-label="reliability diagram">',
             f'<rect x="{margin}" y="{margin}" width="{size}" height="{size}" fill="none" '
             f'stroke="#ccc"/><line x1="{margin}" y1="{margin + size}" x2="{margin + size}" '
             f'y2="{margin}" stroke="#999" stroke-dasharray="4"/>',
             f'<text x="{margin + size / 2}" y="{2 * margin + size - 6}" font-size="11" '
             f'text-anchor="middle">mean churn score</text>',
             f'<text x="12" y="{margin + size / 2}" font-size="11" text-anchor="middle" '
             f'transform="rotate(-90 12 {margin + size / 2})">observed churn rate</text>']
    for row in table:
        x = margin + size * row["mean_score"]
        y = margin + size * (1 - row["observed_rate"])
        radius = 2 + 8 * (row["count"] / largest) ** 0.5
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{colour}" '
                     f'fill-opacity="0.7"><title>scores {row["bin"]}: mean {row["mean_score"]:.3f},'
                     f' churned {row["observed_rate"]:.1%} of {row["count"]}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def reliability_section(tables: list[tuple[str, list[dict]]]) -> str:
    """The diagram and its rows for each table: (what it was measured on, its rows)."""
    if not tables:
        return ""
    parts = ['<section id="calibration"><h2>Do the scores mean what they say?</h2>'
             "<p>Per tenth of the score range: the customers' mean churn score against the share "
             "of them who left. A calibrated model's points sit on the dashed diagonal: of the "
             "customers scored about 0.3, about 3 in 10 leave.</p>"]
    for (label, table), colour in zip(tables, (REFERENCE_COLOUR, CURRENT_COLOUR), strict=False):
        rows = "".join(f'<tr><td>{row["bin"]}</td><td>{row["mean_score"]:.3f}</td>'
                       f'<td>{row["observed_rate"]:.3f}</td><td>{row["count"]}</td></tr>'
                       for row in table)
        parts.append(f"<h3>{html.escape(label)}</h3>{reliability_chart(table, colour)}"
                     "<table><tr><th>scores</th><th>mean score</th><th>churn rate</th>"
                     f"<th>customers</th></tr>{rows}</table>")
    parts.append("</section>")
    return "".join(parts)


def render(drifts: list[FeatureDrift], settings: Settings, title: str,
           calibration: str = "") -> str:
    rows, sections = [], []
    for drift in drifts:
        word, colour = verdict(drift.psi, settings)
        rows.append(f'<tr><td><a href="#{drift.name}">{html.escape(drift.name)}</a></td>'
                    f'<td>{drift.psi:.3f}</td><td style="color:{colour}">{word}</td></tr>')
        sections.append(f'<section id="{drift.name}"><h2>{html.escape(drift.name)} — PSI '
                        f'{drift.psi:.3f}, <span style="color:{colour}">{word}</span></h2>'
                        f'{chart(drift)}</section>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}
td,th{{padding:.2em 1em;border-bottom:1px solid #ddd;text-align:left}}
.key span{{display:inline-block;width:1em;height:1em;vertical-align:middle}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Population Stability Index of each feature, and of the churn scores, against the training
data. Verdicts: <b>drift</b> at PSI ≥ {settings.drift_psi_threshold}, <b>watch</b> at
≥ {settings.drift_psi_warning}, else <b>stable</b>.</p>
<p class="key"><span style="background:{REFERENCE_COLOUR}"></span> reference (training)
&nbsp; <span style="background:{CURRENT_COLOUR}"></span> current</p>
<table><tr><th>feature</th><th>PSI</th><th>verdict</th></tr>{"".join(rows)}</table>
{"".join(sections)}
{calibration}
</body></html>
"""


def drift_report(settings: Settings, current_path: Path, out: Path, reference: str = "model") -> int:
    """Writes the report; `reference` is "model" (the latest model's training profile) or a CSV."""
    check_writable(out)
    model = load_model(settings.models_dir)
    check_features(model, settings)
    profile = model.metadata["reference_profile"]
    if reference != "model":
        base = read_current(Path(reference), settings, model)
        profile = build_profile(base, settings.numeric_features, settings.categorical_features,
                                base[SCORE].to_numpy())
    current = read_current(current_path, settings, model)
    drift, charts = measure(Binning(profile), profile, current)
    against = f"model {model.version}" if reference == "model" else Path(reference).name
    title = f"Drift of {current_path.name} against {against}"
    tables = []
    if tested := model.metadata.get("calibration", {}).get("reliability"):
        tables.append((f"Model {model.version} on its test split", tested))
    if settings.target_column in current:
        tables.append((f"Model {model.version} on {current_path.name}",
                       reliability(current[settings.target_column].to_numpy(), current[SCORE].to_numpy())))
    write_text_atomic(out, render(charts, settings, title, reliability_section(tables)))
    # Features only, as for /drift and churn_data_drift_detected: the score's PSI is shown, not counted.
    drifted = drift.drifted(settings.drift_psi_threshold)
    logger.success("drift report of {} rows: {} drifted ({}); wrote {}", len(current), len(drifted),
                   ", ".join(drifted) or "none", out)
    return len(drifted)
