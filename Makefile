# Strefa Klienta. `make dev` runs the portal on the embedded default; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SANDBOX_PORT ?= 8010
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install dev serve test test-fast lint format typecheck infra-up infra-down infra-status cluster cluster-down cluster-status lock clean web web-test events-catalogue bench

help:
	@echo "make dev         run the portal with demo data on http://127.0.0.1:$(PORT) (SQLite under ./data)"
	@echo "                 and the payment gateway sandbox on http://127.0.0.1:$(SANDBOX_PORT)"
	@echo "make test        the whole suite: lint, types, unit, contract, API and cluster tests"
	@echo "make infra-up    start Kafka and FerretDB under .infra/ (make infra-down stops them)"
	@echo "make bench       the benchmark suite: figures beside same-run baselines in docs/performance.md"
	@echo "                 (BENCH_ARGS=--quick for a few minutes; BENCH_ARGS='--only rebuild' for 1,000,000 events)"
	@echo "make cluster     one process per service on Kafka + FerretDB behind nginx on http://127.0.0.1:$(PORT)"
	@echo "                 (make cluster-down stops it, make cluster-status shows it)"
	@echo "make events-catalogue  regenerate the event catalogue in docs/events (AsyncAPI + JSON Schemas)"

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet -p $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet -p $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -p 3.11 -o requirements.lock

# The web app (web/, React + TypeScript + Vite): `npm ci` only when node_modules is missing or the
# lock file changed, `npm run build` only when a source changed. The gateway serves web/dist at /.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json web/package.json

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build
	touch $@

web: web/dist/index.html

web-test: web/node_modules/.package-lock.json
	cd web && npx vitest run

dev: install web
	$(BIN)/python -m services.gateway_sandbox --port $(SANDBOX_PORT) & sandbox=$$!; trap 'kill $$sandbox' EXIT; \
	PAYMENTS_PAYU_URL=http://127.0.0.1:$(SANDBOX_PORT) PAYMENTS_PUBLIC_URL=http://127.0.0.1:$(PORT) \
	PORT=$(PORT) $(BIN)/python -m services.gateway --port $(PORT) --seed-demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy libs services tests

# The event catalogue for consumers (libs/events/catalogue.py); the contract tests check it is up to date.
events-catalogue: install
	$(BIN)/python -m libs.events.catalogue --out docs/events

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-fast: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: install lint typecheck web web-test infra-up
	set -a && . .infra/env && set +a && $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Performance is measured here, never asserted in tests (bench/, docs/performance.md).
bench: install infra-up
	set -a && . .infra/env && set +a && $(BIN)/python -m bench $(BENCH_ARGS)

infra-up: install
	PYTHON=$(BIN)/python deploy/local/infra.sh up

infra-down:
	deploy/local/infra.sh down

infra-status:
	deploy/local/infra.sh status

cluster: install web
	PORT=$(PORT) PYTHON=$(BIN)/python deploy/local/cluster.sh up

cluster-down:
	deploy/local/cluster.sh down

cluster-status:
	PORT=$(PORT) PYTHON=$(BIN)/python deploy/local/cluster.sh status

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
