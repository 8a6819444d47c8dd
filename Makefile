# The two commands of the README: `make run` (set up, train, predict, serve) and `make test`.
# Each step runs only when its inputs changed: new data retrains, a new model re-scores.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run monitoring doctor test test-containers setup lint clean
.DEFAULT_GOAL := run

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "churn-monitoring needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.runtime: $(VENV)/.python-ok requirements.txt pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.runtime

data/customers.csv: | $(VENV)/.runtime
	$(BIN)/python scripts/generate_data.py --rows 10000 --seed 42 --out $@

models/latest: data/customers.csv | $(VENV)/.runtime
	$(BIN)/python scripts/train.py

data/predictions.csv: models/latest data/customers.csv
	$(BIN)/python scripts/predict_batch.py

run: data/predictions.csv
	$(BIN)/python scripts/serve.py --host $(HOST) --port $(PORT)

# The API plus Prometheus, Pushgateway, Alertmanager and the alert receiver, without Docker.
monitoring: data/predictions.csv
	scripts/start_monitoring.sh --native

# Checks the machine and the running stack; each problem comes with its fix (tutorial, week 1).
doctor: $(VENV)/.runtime
	$(BIN)/python scripts/doctor.py

test: $(VENV)/.dev
	$(BIN)/ruff check src scripts tests benchmarks
	$(BIN)/python -m pytest

# The Compose stack in real containers alone (part of `make test` too): needs Docker.
test-containers: $(VENV)/.dev
	$(BIN)/python -m pytest tests/containers

lint: $(VENV)/.dev
	$(BIN)/ruff check src scripts tests benchmarks

clean:
	rm -rf $(VENV) models/[0-9]* models/latest data/customers.csv data/predictions.csv \
		logs/*.log* logs/*.jsonl* logs/.__*.lock
