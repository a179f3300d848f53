# attnlab — every command a user or CI runs. `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
PY    := .venv/bin/python
PIP   := .venv/bin/pip
ATTNLAB := .venv/bin/attnlab
# Point at the shared datasets when they sit beside the checkout (as in CI); a user's own value wins.
ATTNLAB_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export ATTNLAB_DATA
# One torch thread per test worker: two threads collapse when the other core is busy.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
JOBS ?= 2

.PHONY: setup system-deps demo test test-fast test-browser serve lint format bench evidence clean

# The venv is rebuilt only when pyproject.toml changes (the stamp), so a second `make setup` takes a second.
setup: .stamp-venv system-deps
.stamp-venv: pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@# torch first and exactly 2.13.0: this takes the CPU wheel on disk instead of a multi-GB CUDA build.
	$(PIP) install -q --disable-pip-version-check torch==2.13.0
	$(PIP) install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# System packages: a CJK font for Korean plot labels, and Debian's Chromium for the browser tests.
# Installed only when missing and only where we may (root or passwordless sudo).
system-deps:
	@need=""; \
	fc-list 2>/dev/null | grep -qi nanum || need="$$need fonts-nanum fontconfig"; \
	command -v chromium >/dev/null || need="$$need chromium"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
	    echo "attnlab: please install:$$need (apt-get install$$need)"; exit 0; fi; \
	  echo "installing:$$need"; \
	  $$SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need >/dev/null; \
	  rm -rf ~/.cache/matplotlib; \
	fi

demo: setup
	MPLBACKEND=Agg bash scripts/demo.sh

test: setup
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) -q --timeout 600 --durations=15

test-fast: setup
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) -q -m "not slow and not browser"

test-browser: setup
	$(TEST_ENV) $(PY) -m pytest -q -m browser tests/serve

# The attention explorer on the demo's run (make demo first): http://127.0.0.1:8000
serve: setup
	$(ATTNLAB) serve runs/translate-spa-eng-bahdanau

# ruff, then the layer contract in .importlinter (cli → runs → tasks → models → nn, every package placed).
lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports

format: setup
	.venv/bin/ruff check --fix src tests bench
	.venv/bin/ruff format src tests bench

bench: setup
	$(PIP) install -q --disable-pip-version-check -e '.[dev,bench]'
	bash bench/run_all.sh

evidence: setup
	$(ATTNLAB) evidence all
	$(PY) -m attnlab.evidence.report

clean:
	rm -rf .venv .stamp-venv build src/*.egg-info .pytest_cache .ruff_cache
