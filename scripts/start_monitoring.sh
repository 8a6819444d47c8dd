#!/usr/bin/env bash
# Starts the monitoring stack without Docker, from installed binaries, on DESIGN.md's ports:
# API :8000, Prometheus :9090, Pushgateway :9091, Alertmanager :9093, alert receiver :9095.
# Needs a trained model and batch predictions (`make monitoring` makes them first).
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m churn.native_stack "$@"
