# fwtrack: `make demo` and `make test` work on a fresh machine (Python >= 3.10, Rust stable).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.stamp-uv:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	touch $@

$(VENV)/.stamp-dev: requirements/dev.txt requirements/integrations.txt $(VENV)/.stamp-uv
	$(UV) pip install --quiet -r requirements/dev.txt -r requirements/integrations.txt
	touch $@

$(VENV)/.stamp-bench: requirements/bench.txt $(VENV)/.stamp-dev
	$(UV) pip install --quiet -r requirements/bench.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.stamp-dev ## Create the virtual environment with pinned dependencies

.PHONY: build
build: venv ## Build the Rust extension into the virtual environment (release)
	$(VENV)/bin/maturin develop --release --uv --quiet

.PHONY: lock
lock: $(VENV)/.stamp-uv ## Re-pin requirements/*.txt from requirements/*.in
	$(UV) pip compile --quiet --python-version 3.11 requirements/dev.in -o requirements/dev.txt
	$(UV) pip compile --quiet --python-version 3.11 requirements/integrations.in -o requirements/integrations.txt
	$(UV) pip compile --quiet --python-version 3.11 requirements/bench.in -o requirements/bench.txt

.PHONY: demo
demo: build ## Set everything up and run the example training loop
	$(PY) examples/train_torch.py

.PHONY: lint
lint: venv ## ruff, mypy, rustfmt, clippy
	$(VENV)/bin/ruff check python tests benches examples integrations
	$(VENV)/bin/ruff format --check python tests benches examples integrations
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(MAKE) build
	$(VENV)/bin/mypy

.PHONY: pg
pg: ## Install Debian's PostgreSQL when missing (the server tests start a throw-away cluster)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL is missing: installing Debian's postgresql package"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql; \
	fi

.PHONY: test
test: lint ## Lint, then run the Rust and Python tests
	timeout 900 cargo test --workspace --exclude fwtrack-py --locked  # the timeout guards against a deadlock
	$(MAKE) pg
	$(PY) -m pytest -q

.PHONY: bench
bench: build $(VENV)/.stamp-bench ## Side-by-side benchmarks against other trackers
	$(PY) benches/run.py --out benches/out
	$(PY) benches/lightning_fit.py --reps 3
	$(PY) benches/server_bench.py --out benches/out/server

.PHONY: clean
clean: ## Remove build outputs and the virtual environment
	rm -rf target $(VENV) fwtrack benches/out
