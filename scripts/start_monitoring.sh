#!/usr/bin/env bash
# Starts the churn-monitoring stack and says what to open:
#   scripts/start_monitoring.sh           Docker Compose: builds if needed, waits until healthy
#   scripts/start_monitoring.sh --down    stops the Compose stack (its volumes are kept)
#   scripts/start_monitoring.sh --reset   stops it and deletes its volumes: data, models, metrics
#   scripts/start_monitoring.sh --native  without Docker, from installed binaries (make monitoring)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,6p' "$0" | cut -c3-; }

case "${1:-}" in
    --native) shift; exec "${PYTHON:-.venv/bin/python}" -m churn.ops.native_stack "$@" ;;
    --down) exec docker compose down ;;
    --reset) exec docker compose down --volumes ;;
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
esac

if ! docker compose version >/dev/null 2>&1; then
    echo "Docker Compose v2 is needed ('docker compose version' failed)." >&2
    echo "Without Docker: $0 --native" >&2
    exit 1
fi
docker compose up --wait
cat <<'URLS'
churn-monitoring is up. Open first:
  Grafana        http://localhost:3000  home: Overview; dashboards in "MLOps Monitoring"
  API            http://localhost:8000/docs  (try: curl localhost:8000/churn/15573833)
  Prometheus     http://localhost:9090/targets  (every target UP)
  Alertmanager   http://localhost:9093
  Pushgateway    http://localhost:9091
  Blackbox       http://localhost:9115  (the last probes of the API, under "Recent Probes")
  Alert log      docker compose exec alert-receiver tail -f logs/alerts.jsonl
  Runbooks       http://localhost:9095/runbooks/
Stop: scripts/start_monitoring.sh --down   (--reset also deletes the volumes)
URLS
