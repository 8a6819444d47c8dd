#!/usr/bin/env bash
# Exercise log-analysis (week 2): four answers from the API's log, with grep, awk, sort, uniq or jq.
#   bash tutorial/exercises/log_report.sh [log file]      (default logs/api.log)
# Prints exactly, one line each (see tutorial/exercises.yml):
#   requests <route> <count>      one line per route, most requested first, ties by route name
#   mean_ms <mean duration of every request line, 2 decimals>
#   errors_last_hour <request lines with a status of 500 or more, in the last hour>
#   top_customer <customer_id looked up most often, the smallest id among ties> <times>
# Check it: .venv/bin/python scripts/exercise.py check log-analysis
set -euo pipefail
log="${1:-logs/api.log}"

# A request line ends with "<METHOD> <route> <status> <duration> ms", and "customer_id=<id>" for a
# lookup. Keep only those lines first.
requests=$(grep -E ' [0-9]{3} [0-9.]+ ms' "$log" || true)

echo "TODO: requests per route"
echo "TODO: mean_ms"
echo "TODO: errors_last_hour"
echo "TODO: top_customer"
