# Strefa Klienta. `make dev` runs the portal on the embedded default; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install dev serve test test-fast lint format typecheck infra-up infra-down infra-status lock clean

help:
	@echo "make dev         run the portal with demo data on http://127.0.0.1:$(PORT) (SQLite under ./data)"
	@echo "make test        the whole suite: lint, types, unit, contract, API and cluster tests"
	@echo "make infra-up    start Kafka and FerretDB under .infra/ (make infra-down stops them)"

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

dev: install
	PORT=$(PORT) $(BIN)/python -m services.gateway --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy libs services tests

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-fast: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: install lint typecheck infra-up
	set -a && . .infra/env && set +a && $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

infra-up: install
	PYTHON=$(BIN)/python deploy/local/infra.sh up

infra-down:
	deploy/local/infra.sh down

infra-status:
	deploy/local/infra.sh status

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
