# Set-up and everyday commands. On a fresh machine with python3 and make:
#   make run    installs, migrates, loads units and demo data, serves http://127.0.0.1:8000
#   make test   installs, then runs lint, type checks, the deploy check and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install messages setup lint typecheck deploy-check pytest bench load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The benchmarks' extra tools (Locust for the load benchmark), installed once.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)

# Load benchmark on 127.0.0.1: three minutes of load after a few minutes of set-up
# (bench/README.md). PostgreSQL and Redis on this machine; DATABASE_URL may name the server.
load: bench messages
	$(BIN)/python bench/load.py

# Compile the translation catalogues with Babel (no system gettext needed).
messages: install
	$(BIN)/pybabel compile -d cnsc/locale -D django
	$(BIN)/pybabel compile -d cnsc/locale -D djangojs

setup: messages
	$(MANAGE) migrate --noinput -v 0
	$(MANAGE) load_units

# The dashboards' figures: computed before serving (idle when nothing changed), then brought up to
# date every minute while the server runs, as the figures process does in production.
run: setup
	$(MANAGE) seed_demo
	$(MANAGE) refresh_indicators
	@echo "figures refreshed every 60 s while the server runs (log: $${CNSC_VAR_DIR:-var}/refresh.log)"
	$(MANAGE) refresh_indicators --every 60 >>"$${CNSC_VAR_DIR:-var}/refresh.log" 2>&1 & refresher=$$!; \
	trap 'kill $$refresher 2>/dev/null' EXIT INT TERM; \
	$(MANAGE) runserver --noreload $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy cnsc config

# Production settings must pass Django's deployment checklist without a warning.
deploy-check: install
	CNSC_ENV=production DEBUG=0 ALLOWED_HOSTS=cnsc.example.gov.vn \
	SECRET_KEY=deploy-check-$$(printf 'k%.0s' $$(seq 1 60)) \
	CCCD_HASH_KEY=deploy-check-$$(printf 'c%.0s' $$(seq 1 40)) \
	DATABASE_URL=sqlite:///$(CURDIR)/var/deploy-check.sqlite3 REDIS_URL=redis://127.0.0.1:6379/0 \
	$(MANAGE) check --deploy --fail-level WARNING

pytest: messages
	$(BIN)/pytest

test: lint typecheck deploy-check pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
