"""What the load test can show on this machine: the highest steady rate of GET /churn/{id} the API
answers with a p99 under 50 ms, for 1 and 2 uvicorn workers, and the load generator's own ceiling.

For each worker count it starts scripts/serve.py on the configured data, then runs
scripts/load_test.py (light traffic, 48 clients) at rising --rps for --seconds each and prints the
rate achieved and the client's latency percentiles. The generator's ceiling is its CPU time per
request (two runs of different length, so start-up cancels out): one core's worth of requests.
Generator and API share the machine, as they do on a student's laptop. Run by hand; not a test.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
P99_LIMIT_MS = 50


def start_api(port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, str(REPO / "scripts" / "serve.py"), "--port", str(port),
                               "--workers", str(workers)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            if requests.get(f"http://127.0.0.1:{port}/ready", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.5)
    server.kill()
    sys.exit("the API did not become ready; is there a trained model and predictions (make run)?")


def load(port: int, *args: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "summary.json"
        subprocess.run([sys.executable, str(REPO / "scripts" / "load_test.py"), "--url",
                        f"http://127.0.0.1:{port}", "--no-progress", "--json", str(out), *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(out.read_text())[0]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8140)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rates", default="200,400,600,800,1000,1300")
    args = parser.parse_args()
    os.environ.setdefault("CHURN_LOG_LEVEL", "INFO")
    for workers in (1, 2):
        server = start_api(args.port, workers)
        try:
            best = 0.0
            print(f"\n{workers} worker(s): target/s  achieved/s  p50 ms  p95 ms  p99 ms")
            for rate in map(float, args.rates.split(",")):
                summary = load(args.port, "--scenario", "light", "--duration", str(args.seconds),
                               "--rps", str(rate), "--workers", "48")
                latency = summary["latency_ms"]
                print(f"{rate:>19g} {summary['requests_per_second']:>11g} {latency['p50']:>7g} "
                      f"{latency['p95']:>7g} {latency['p99']:>7g}")
                if latency["p99"] < P99_LIMIT_MS:
                    best = max(best, summary["requests_per_second"])
            print(f"highest rate with p99 < {P99_LIMIT_MS} ms: {best:g}/s")
            if workers == 2:
                cpu = []
                for requests_sent in (2000, 8000):
                    before = children_cpu()
                    load(args.port, "--scenario", "spike", "--requests", str(requests_sent))
                    cpu.append(children_cpu() - before)
                per_request = (cpu[1] - cpu[0]) / 6000
                print(f"\nload generator: {per_request * 1e6:.0f} us of CPU a request, a ceiling of "
                      f"about {1 / per_request:,.0f} requests/s on one core")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
