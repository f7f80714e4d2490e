# Two commands do all the set-up on a fresh machine:
#   make run    creates .venv, installs, migrates, seeds the demo and serves on 127.0.0.1:8080
#   make test   installs the test extras and runs ruff, mypy and the whole suite on SQLite and PostgreSQL
# The machines this project is built and tested on set PYTHONDONTWRITEBYTECODE=1. Without a bytecode cache every Python
# process of the suite (three pytest workers, some 300 CLI and server processes) compiles the service's modules again
# and every pytest worker rewrites and compiles ~560 test modules: collecting the suite cost 21 s of CPU per worker
# instead of 8 s. The cache goes to __pycache__/ in the checkout (ignored by git).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# Three workers on two cores: a fifth of the suite's time is spent waiting (on servers and CLI processes starting,
# on job ticks), which a third worker fills (2 workers: ~920 s, 3: ~830 s on the 2-core CI machine); work stealing
# keeps the long tests (Radicale's suite, python-caldav's) from ending the run alone.
PYTEST_ARGS ?= -n 3 --dist worksteal

.PHONY: run run-sf test suite screenshots lint typecheck install install-test feed-test-tools caldav-suite-tools lock clean help

help:
	@echo "make run    serve the demo on http://$(HOST):$(PORT) (SQLite in ./var, no Salesforce needed)"
	@echo "make run-sf the demo plus the in-repo Salesforce emulator with demo Events, synced every 10 s"
	@echo "make test   lint, type-check and run the whole test suite on SQLite and PostgreSQL"
	@echo "make caldav-suite-tools  the venv for python-caldav 3.x's suite and caldav-server-tester (make test makes it)"
	@echo "make lock   regenerate requirements.lock (the Docker image's pinned, hash-checked dependencies)"
	@echo "make clean  remove .venv and ./var"

# The venv's packages are installed by uv (from the package registry, into the venv, like pip): on the 2-core CI
# machine `pip install -e '.[test]'` took 32 s (26 s of CPU) even from pip's cache, uv 7 s, and the caldav suite's
# venv 31 s with pip, both on the path to the first test. uv does not byte-compile what it installs (pip did unless
# told not to): the interpreter compiles what it imports on first use and keeps it (PYTHONDONTWRITEBYTECODE is
# unexported above), a fraction of compiling everything.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile 'uv>=0.9,<1'

PIP_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python

$(VENV)/.installed: $(BIN)/uv setup.cfg pyproject.toml
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/uv setup.cfg pyproject.toml
	$(PIP_INSTALL) -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/appointment-service serve --demo --host $(HOST) --port $(PORT)

# The demo plus the in-repo Salesforce emulator (the sf_emulator package) with demo Events, synced.
run-sf: install
	$(BIN)/appointment-service serve --demo --salesforce-emulator --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install-test
	$(BIN)/mypy caldav_bridge feeds config storage_plugin tests bench

# The feed tests also need Mozilla's ical.js and axe-core (npm, into tests/feeds/node/node_modules: the
# calendar page's accessibility check) and Debian's chromium (the calendar page's browser test, driven by
# the Python playwright package, which never downloads a browser). Both installs are idempotent: stamp
# files, redone when package.json or package-lock.json change.
NODE_TOOLS := tests/feeds/node/node_modules/.installed
CHROMIUM ?= /usr/bin/chromium

$(NODE_TOOLS): tests/feeds/node/package.json tests/feeds/node/package-lock.json
	cd tests/feeds/node && npm ci --no-audit --no-fund --loglevel=error </dev/null
	touch $@

$(VENV)/.chromium: | $(BIN)/python
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq </dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-dejavu-core </dev/null; \
	fi
	@if [ -x $(CHROMIUM) ]; then touch $@; else \
		echo "note: $(CHROMIUM) missing and not root: install Debian's chromium for the calendar page test"; fi

feed-test-tools: $(NODE_TOOLS) $(VENV)/.chromium

# python-caldav 3.x's functional suite and caldav-server-tester (tests/caldav/test_caldav_client_suite.py) run
# from a virtualenv of their own: pinned packages from PyPI plus caldav's sdist, whose tests/ the wheel lacks
# (tests/support/caldav_suite_requirements.txt says why not .venv). Redone when the pins change.
CALDAV_SUITE ?= .venv-caldav-suite

$(CALDAV_SUITE)/.installed: tests/support/caldav_suite_requirements.txt tests/support/caldav_suite.py $(VENV)/.installed-test
	CALDAV_SUITE_VENV=$(CALDAV_SUITE) $(BIN)/python bench/caldav_conformance.py install

caldav-suite-tools: $(CALDAV_SUITE)/.installed

# Once the test extras are installed, ruff, npm and the caldav suite's venv run side by side (each one's output kept
# together), then the suite and mypy: mypy is 35 s of one core and nothing the suite needs, so it runs beside the
# suite's three workers instead of in front of them (the run is ~18 s shorter). Either failing fails `make test`.
test: install-test
	$(MAKE) --no-print-directory -j3 --output-sync=target lint feed-test-tools caldav-suite-tools
	$(MAKE) --no-print-directory -j2 typecheck suite

# The suite alone (make test runs it after the tools it needs).
suite:
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Re-take the screenshots the docs show (docs/images/) with the browser tests; a plain test run never writes there.
screenshots: install-test feed-test-tools
	DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/feeds/test_calendar_page.py tests/selfbooking/test_booking_browser.py -k "sqlite or not postgres"

# requirements.lock: every dependency of setup.cfg (and the postgres extra) pinned with hashes, for the image.
lock: $(BIN)/uv
	$(PIP_INSTALL) 'pip-tools>=7.4,<8'
	$(BIN)/pip-compile --quiet --strip-extras --extra postgres --generate-hashes --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock setup.cfg

clean:
	rm -rf $(VENV) $(CALDAV_SUITE) var
