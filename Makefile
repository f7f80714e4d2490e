# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs, migrates, seeds the demo and serves on 127.0.0.1:8080
#   make test   installs the test extras and runs ruff, mypy and the whole suite on SQLite and PostgreSQL
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: run test lint typecheck install install-test clean help

help:
	@echo "make run    serve the demo on http://$(HOST):$(PORT) (SQLite in ./var, no Salesforce needed)"
	@echo "make test   lint, type-check and run the whole test suite on SQLite and PostgreSQL"
	@echo "make clean  remove .venv and ./var"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/appointment-service serve --demo --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .

typecheck: install-test
	$(BIN)/mypy caldav_bridge feeds config storage_plugin

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
