"""Benchmark of the API: the instrumented GET /churn/{id} against bare FastAPI serving the same lookup.

Four servers answer the same cached lookup with the same response model, one uvicorn worker
each, loaded by wrk (Debian package `wrk`) from a second process at a fixed concurrency:
  bare          no metrics, no logging;
  defaults      bare plus `Instrumentator().instrument(app).expose(app)`: the course's recipe;
  middleware    bare plus a hand-written BaseHTTPMiddleware recording two metrics;
  churn-api     the real app: api_* and model_* metrics, exemplars, request ids, one log line a
                request, drift gauges.
Rounds alternate the servers so drift of the machine hits all alike; the median round counts.
It then measures POST /predict against the same scoring without micro-batching (unbatched),
and memory and start-up time with 1,000,000 predictions loaded.
Run by hand; it is not a test.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

WRK_REPORT = (Path(__file__).parent / "wrk_report.lua").read_text()


def bare_app(instrumented: bool = False):
    """The same lookup and response model as GET /churn/{id}, and nothing else."""
    from fastapi import FastAPI, HTTPException

    from churn.api.schemas import CustomerPrediction
    from churn.api.store import PredictionStore
    from churn.batch import read_predictions
    from churn.risk import risk_level
    from churn.settings import load_settings

    settings = load_settings()
    table = read_predictions(settings.predictions_path)
    store = PredictionStore(table.ids, table.probabilities, table.model_version)
    app = FastAPI()

    @app.get("/churn/{customer_id}")
    async def churn(customer_id: int) -> CustomerPrediction:
        stored = store.get(customer_id)
        if stored is None:
            raise HTTPException(404, f"customer {customer_id} not found")
        return CustomerPrediction(
            customer_id=customer_id, source="cache", churn_probability=stored.probability,
            risk_level=risk_level(stored.probability, settings), churn_predicted=False,
            model_version=stored.model_version)

    if instrumented:
        from prometheus_fastapi_instrumentator import Instrumentator

        Instrumentator().instrument(app).expose(app)
    return app


def defaults_app():
    return bare_app(instrumented=True)


def middleware_app():
    """bare plus a hand-written BaseHTTPMiddleware timing and counting each request, in the style
    of blueswen/fastapi-observability: the common alternative to the instrumentator."""
    from prometheus_client import Counter, Histogram
    from starlette.middleware.base import BaseHTTPMiddleware

    app = bare_app()
    served = Counter("requests", "Requests.", ["method", "path", "status_code"])
    duration = Histogram("request_duration_seconds", "Request time.", ["method", "path"])

    class Metrics(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            started = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            path = route.path if route is not None else "none"
            served.labels(request.method, path, str(response.status_code)).inc()
            duration.labels(request.method, path).observe(time.perf_counter() - started)
            return response

    app.add_middleware(Metrics)
    return app


def unbatched_app():
    """POST /predict scored one request at a time, one predict_proba call each: the same body
    validation and scorer as churn-api, without its micro-batching, metrics or logging."""
    import anyio
    from fastapi import FastAPI, HTTPException, Request

    from churn.api.schemas import request_models
    from churn.model.registry import load_model
    from churn.model.scoring import Scorer, trained_categories
    from churn.settings import load_settings

    settings = load_settings()
    model = load_model(settings.models_dir)
    scorer, one_at_a_time = Scorer(model), anyio.CapacityLimiter(1)
    bodies = request_models(model.metadata["features"], trained_categories(model), settings.api_max_batch)
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        customer = bodies.customer.model_validate_json(await request.body())
        (probability,) = await anyio.to_thread.run_sync(
            scorer.score, [customer.model_dump(by_alias=True)], limiter=one_at_a_time)
        return {"churn_probability": probability}

    @app.get("/churn/{customer_id}")  # what Server polls to know it is up
    async def churn(customer_id: int) -> dict:
        raise HTTPException(404, "this server only scores")

    return app


SERVERS = {
    "bare": "benchmark_api:bare_app",
    "defaults": "benchmark_api:defaults_app",
    "middleware": "benchmark_api:middleware_app",
    "churn-api": "churn.api.app:create_app",
}
UNBATCHED = "benchmark_api:unbatched_app"


class Server:
    """One uvicorn worker on a port; reports its start-up time and resident memory."""

    def __init__(self, target: str, port: int, env: dict) -> None:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", target, "--factory", "--port", str(port),
             "--app-dir", str(Path(__file__).parent), "--no-access-log", "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{self.url}/churn/0", timeout=1).status_code in (404, 422):
                    break
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    raise SystemExit(f"{target} did not start") from None
                time.sleep(0.05)
        self.startup_seconds = time.perf_counter() - started

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, check=True).stdout
    report = json.loads(output.strip().splitlines()[-1])
    report["rps"] = report["requests"] / report["seconds"]
    return report


def lookup_script(folder: Path, ids: list[int]) -> Path:
    script = folder / "lookup.lua"
    script.write_text(
        "local ids = {" + ",".join(map(str, ids)) + "}\n"
        'request = function() return wrk.format("GET", "/churn/" .. ids[math.random(#ids)]) end\n'
        + WRK_REPORT)
    return script


def predict_script(folder: Path) -> Path:
    body = json.dumps({"CreditScore": 619, "Geography": "France", "Gender": "Female", "Age": 42,
                       "Tenure": 2, "Balance": 0.0, "NumOfProducts": 1, "HasCrCard": 1,
                       "IsActiveMember": 1, "EstimatedSalary": 101348.88})
    script = folder / "predict.lua"
    script.write_text(f"wrk.method = 'POST'\nwrk.body = '{body}'\n"
                      "wrk.headers['Content-Type'] = 'application/json'\n" + WRK_REPORT)
    return script


def project(folder: Path, rows: int) -> dict:
    """`rows` scored customers under `folder`; returns the environment pointing the API there."""
    from churn.batch import predict_batch
    from churn.data.synthetic import generate
    from churn.model.training import train
    from churn.settings import load_settings

    paths = {"data_path": folder / "customers.csv", "predictions_path": folder / "predictions.csv",
             "models_dir": folder / "models", "logs_dir": folder / "logs"}
    settings = load_settings(**paths, log_level="WARNING")
    generate(10_000, seed=42).to_csv(folder / "train.csv", index=False)
    train(settings, folder / "train.csv")
    generate(rows, seed=1).to_csv(settings.data_path, index=False)
    predict_batch(settings)
    # The servers log at INFO, as in production: one line a request is part of the cost.
    return os.environ | {f"CHURN_{key.upper()}": str(path) for key, path in paths.items()} | {
        "CHURN_LOG_LEVEL": "INFO"}


def line(name: str, report: dict, bases: dict[str, dict] | None = None) -> str:
    ratio = "".join(f"  {report['rps'] / base['rps']:.2f}x {base_name}"
                    for base_name, base in (bases or {}).items() if base is not report)
    return (f"{name:>10}: {report['rps']:7.0f} req/s  p50 {report['p50']:5.2f} ms  "
            f"p95 {report['p95']:5.2f} ms  p99 {report['p99']:6.2f} ms  errors {report['errors']}{ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the servers (default 3)")
    parser.add_argument("--big-rows", type=int, default=1_000_000,
                        help="predictions loaded for the memory figure (default 1000000)")
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        small = folder / "small"
        small.mkdir()
        env = project(small, 10_000)
        import pandas as pd

        ids = pd.read_csv(small / "predictions.csv")["CustomerId"].sample(2000, random_state=1).tolist()
        lookup = lookup_script(folder, ids)
        results: dict[str, list[dict]] = {name: [] for name in SERVERS}
        for round_number in range(args.rounds):
            for index, (name, target) in enumerate(SERVERS.items()):
                server = Server(target, 18_100 + 10 * round_number + index, env)
                wrk(server.url, lookup, args.connections, 2)  # warm-up
                results[name].append(wrk(server.url, lookup, args.connections, args.seconds))
                server.stop()
        print(f"GET /churn/{{id}}, {args.connections} connections, {args.seconds} s runs, "
              f"median of {args.rounds} rounds:")
        medians = {name: sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
                   for name, runs in results.items()}
        for name, report in medians.items():
            print(line(name, report, {"bare": medians["bare"], "defaults": medians["defaults"]}))
        spread = {name: statistics.pstdev([run["rps"] for run in runs]) / statistics.mean(
            [run["rps"] for run in runs]) for name, runs in results.items()}
        print("  run-to-run spread: " + ", ".join(f"{name} {value:.1%}" for name, value in spread.items()))

        predict = predict_script(folder)
        reports = {}
        for name, target, port in (("unbatched", UNBATCHED, 18_189),
                                   ("churn-api", SERVERS["churn-api"], 18_190)):
            server = Server(target, port, env)
            wrk(f"{server.url}/predict", predict, args.connections, 2)
            reports[name] = wrk(f"{server.url}/predict", predict, args.connections, args.seconds)
            server.stop()
        print("POST /predict, same load (churn-api scores waiting requests together):")
        for name, report in reports.items():
            ratio = reports["churn-api"]["rps"] / reports["unbatched"]["rps"]
            print(line(name, report) + (f"  {ratio:.1f}x unbatched" if name == "churn-api" else ""))

        big = folder / "big"
        big.mkdir()
        env = project(big, args.big_rows)
        server = Server(SERVERS["churn-api"], 18_191, env)
        print(f"churn-api with {args.big_rows:,} predictions: start-up to first answer "
              f"{server.startup_seconds:.2f} s, resident memory {server.rss_mb():.0f} MB")
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
