"""Benchmark of batch prediction: rows per second end to end and peak memory, on generated rows.

Each measurement runs in a fresh process so peak memory is its own (Linux: read from /proc).
Plain pandas read + write of the same file is measured in the same run as a baseline, since
absolute figures are noisy on a shared machine. Run by hand: it is not a test.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from pathlib import Path
import pandas as pd
from churn.settings import load_settings
mode, data, out, models = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
started = time.perf_counter()
if mode == "baseline":
    pd.read_csv(data).to_csv(out, index=False)
else:
    from churn import logs
    from churn.batch import predict_batch
    settings = load_settings(models_dir=models, logs_dir=out.parent / "logs", log_level="WARNING")
    logs.setup("prediction", settings)
    predict_batch(settings, data, out)
seconds = time.perf_counter() - started
# VmHWM is this process's own peak; ru_maxrss would report the parent's if it was larger at fork.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def measure(mode: str, data: Path, out: Path, models: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(data), str(out), str(models)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers to score (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    args = parser.parse_args()

    from churn.data.synthetic import generate
    from churn.model.training import train
    from churn.settings import load_settings

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = root / "customers.csv"
        generate(args.rows, seed=1).to_csv(data, index=False)
        training = root / "train.csv"
        generate(10_000, seed=42).to_csv(training, index=False)
        settings = load_settings(models_dir=root / "models", logs_dir=root / "logs", log_level="WARNING")
        train(settings, training)
        print(f"{args.rows:,} rows, {data.stat().st_size / 1e6:.0f} MB of CSV; best of {args.repeat} runs")
        results = {}
        for mode in ("baseline", "predict"):
            runs = [measure(mode, data, root / f"{mode}.csv", settings.models_dir)
                    for _ in range(args.repeat)]
            best = min(runs, key=lambda run: run["seconds"])
            results[mode] = best
            label = "pandas read+write only" if mode == "baseline" else "predict_batch end to end"
            print(f"{label:>26}: {best['seconds']:6.2f} s  {args.rows / best['seconds']:>10,.0f} rows/s"
                  f"  peak {max(run['peak_mb'] for run in runs):5.0f} MB")
        ratio = results["predict"]["seconds"] / results["baseline"]["seconds"]
        print(f"{'ratio to baseline':>26}: {ratio:.2f}x the time of reading and writing the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
