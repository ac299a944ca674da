# Portfolio Maximizer on Airflow. `make run` and `make test` each work on a fresh clone: they build .venv
# from requirements.lock first (and install the Debian tools the tests need) when missing.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: help venv system-deps run up bootstrap replay test test-fast test-integration bench lint lock dashboards clean

help:
	@echo "make run               bootstrap Airflow, run the master DAG once in synthetic mode, print a summary"
	@echo "make up                keep the local stack running (UI on http://127.0.0.1:8080)"
	@echo "make replay DAY=...    replay exchange day(s) in live mode on a pinned clock (DAY='2026-12-03 2026-12-25')"
	@echo "make test              the full test suite (unit + integration against real Airflow/Prometheus)"
	@echo "make test-fast         unit tests only"
	@echo "make bench             run the benchmarks (they print numbers)"
	@echo "make lint              ruff + import contracts (lint-imports) + mypy on every package"
	@echo "make lock              regenerate requirements.lock from pyproject.toml"

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --compile-bytecode --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e . -C editable_mode=compat
	@touch $@

# Debian packages the tests use for real: prometheus (+ promtool), prometheus-alertmanager (+ amtool),
# chromium (HTML report rendering and PNG export), redis-server (a private Celery broker for the scale-path
# test and benchmarks).
system-deps:
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v amtool >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

run: $(STAMP)
	$(PY) -m local_stack.run

up: $(STAMP)
	$(PY) -m local_stack.run --keep-running

bootstrap: $(STAMP)
	$(PY) -m local_stack.run --bootstrap-only

replay: $(STAMP)
	@test -n "$(DAY)" || { echo "usage: make replay DAY=2026-12-03 [DAY='2026-11-27 2026-12-25']"; exit 2; }
	$(PY) -m local_stack.replay $(DAY)

# Unit tests on every core (a module stays on one worker: loadfile), then the integration tests: those of the one
# real Airflow stack of the session on one worker, each module with a stack of its own beside them (loadgroup, see
# tests/stack_groups.py).
test: $(STAMP) system-deps
	$(PY) -m pytest -m "not integration and not e2e" -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)
	$(PY) -m pytest -m "integration or e2e" -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not integration and not e2e" -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

test-integration: $(STAMP) system-deps
	$(PY) -m pytest -m "integration or e2e" -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

lock:
	@test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet uv==$(UV_VERSION); }
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

dashboards: $(STAMP)
	$(PY) -m dashboards.build

clean:
	rm -rf .airflow logs data reports .pytest_cache
