# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/hookbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/hookbot

.PHONY: setup run test lint bench
setup: $(BIN)/hookbot

run: setup
	$(BIN)/hookbot run

test: setup
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy parsers formatters bot

bench: setup
	$(BIN)/python bench/ingest.py
