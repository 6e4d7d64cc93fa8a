# coursebook — see README.md. Every target bootstraps .venv from requirements.txt on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := book

# The interpreter that creates the virtualenv: the newest supported one on PATH (evaluated only then).
# Python 3.10-3.11.4 get the older pins of requirements.txt; the GPU file has only the newest.
SUPPORTED_PYTHONS := python3.13 python3.12 python3.11 python3.10 python3
OLDEST_PYTHON := $(if $(filter 1,$(GPU)),3.11.5,3.10)
PYTHON ?= $(shell for p in $(SUPPORTED_PYTHONS); do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (tuple(map(int, "$(OLDEST_PYTHON)".split("."))) <= sys.version_info[:3] < (3, 14)))' 2>/dev/null && { echo $$p; break; }; done)

# GPU=1: the GPU build of the backends, in its own virtualenv (the CPU one is never touched)
GPU ?=
ifeq ($(GPU),1)
VENV := .venv-gpu
REQUIREMENTS := requirements-gpu.txt
else
VENV := .venv
REQUIREMENTS := requirements.txt
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-$(shell sha256sum $(REQUIREMENTS) | cut -c1-16)

PROFILE ?= quick
DATA ?=
# chapters at once: auto = one per core, at most 4 (JOBS=1: one at a time)
JOBS ?= auto
CHAPTER ?=
PARAMS ?=
TIMEOUT ?=
SCHEDULER ?=
DETERMINISTIC ?=
REMOTE ?= origin
FORCE ?=
PART ?=
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONPATH := $(CURDIR)
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
export XLA_PYTHON_CLIENT_PREALLOCATE ?= false  # JAX: take GPU memory as needed, so chapters can share a GPU
export COURSEBOOK_DETERMINISTIC := $(DETERMINISTIC)

NOWAIT ?=
SESSION ?=  # make status: which chapters a session of this many hours finishes, by the estimates
# The values reach the runner through the environment ("$$NAME"), never as shell text, so no value is
# ever run by the shell; the runner checks them and says what is wrong in one line. set -f: no globbing.
export PROFILE DATA JOBS CHAPTER PARAMS NOWAIT TIMEOUT SCHEDULER REMOTE PART SESSION
RUNNER_ARGS = --profile "$$PROFILE" --jobs "$$JOBS" $(if $(DATA),--data "$$DATA") $(if $(NOWAIT),--no-wait) \
              $(if $(TIMEOUT),--timeout "$$TIMEOUT") $(if $(SCHEDULER),--scheduler "$$SCHEDULER")

.PHONY: book run status lab freeze schema lint test test-fast bench publish pdf venv clean help check-lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: $(STAMP)  ## create .venv (GPU=1: .venv-gpu) and install the pinned requirements (only when they changed)

$(STAMP): $(REQUIREMENTS) pyproject.toml
	@test -x $(PY) || test -n "$(PYTHON)" || { echo "make: no Python $(OLDEST_PYTHON)-3.13 found on PATH (tried $(SUPPORTED_PYTHONS)); install one, e.g. 'brew install python@3.12' (macOS), 'apt-get install python3-venv' (Debian/Ubuntu, WSL) or python.org, or say which: make PYTHON=/path/to/python3.12"; exit 2; }
	@if [ -e $(VENV) ] && ! $(PY) -m pip --version >/dev/null 2>&1; then \
	  echo "make: $(VENV) has no working pip (a 'python -m venv' that stopped, e.g. at 'ensurepip is not available'): recreating it"; \
	  rm -rf $(VENV); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing $(REQUIREMENTS) into $(VENV) ..."
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .  # a kernel started anywhere imports coursebook
	@rm -f $(VENV)/.requirements-*
	@touch $@

book: $(STAMP)  ## execute every out-of-date chapter, then build _build/html (NOWAIT=1: refuse if another build runs)
	set -f; $(PY) -m coursebook build $(RUNNER_ARGS) $(if $(PARAMS),--set $$PARAMS)

run: $(STAMP)  ## re-execute one chapter: make run CHAPTER=<id> PARAMS="key=value ..."
	@test -n "$$CHAPTER" || { echo "error: command line: make run needs CHAPTER=<id> (the book/chapters/<id> entries of _toc.yml)" >&2; exit 2; }
	set -f; $(PY) -m coursebook build $(RUNNER_ARGS) --chapter "$$CHAPTER" --set $$PARAMS

# make status installs nothing: it runs in a virtualenv installed earlier ($(VENV), else .venv: planning is
# the same on a GPU), and without one says how to create it.
STATUS_VENV := $(firstword $(patsubst %/,%,$(dir $(wildcard $(VENV)/.requirements-* .venv/.requirements-*))))

status:  ## what make book (with CHAPTER: make run) would execute, why, and how long it should take; runs and installs nothing
	@test -n "$(STATUS_VENV)" || { echo "make status: no virtualenv is installed yet, and make status installs nothing: 'make venv' creates $(VENV) (a minute or two)" >&2; exit 2; }
	set -f; $(STATUS_VENV)/bin/python -m coursebook status $(RUNNER_ARGS) $(if $(CHAPTER),--chapter "$$CHAPTER") $(if $(PARAMS),--set $$PARAMS) $(if $(SESSION),--session "$$SESSION")

lab: $(STAMP)  ## JupyterLab on one chapter's runnable notebook (CHAPTER=<id>; PROFILE, DATA, PARAMS as for make run), or on the project
	@if [ -n "$$CHAPTER" ]; then \
	  set -f; $(PY) -m coursebook notebook "$$CHAPTER" --output "work/$$CHAPTER.ipynb" --profile "$$PROFILE" $(if $(DATA),--data "$$DATA") --set $$PARAMS \
	    && exec $(VENV)/bin/jupyter lab "work/$$CHAPTER.ipynb"; \
	else exec $(VENV)/bin/jupyter lab; fi

freeze: $(STAMP)  ## stage the executed chapters (notebook, run record, results file) for a commit that CI reuses (docs/gpu.md)
	$(PY) -m coursebook freeze

schema: $(STAMP)  ## JSON Schemas of params/ files for editors, from the same checks (_build/schema; docs/authoring.md)
	$(PY) -m coursebook schema

# the code ruff lints and formats; mypy checks the package (pyproject.toml configures both; caches in .cache)
LINTED := coursebook tests benchmarks scripts

lint: $(STAMP)  ## ruff check, ruff format --check and mypy (seconds; make test and make test-fast run it first)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy coursebook

test: lint  ## lint, then the test suite (what CI runs), one worker per core sharing one smoke book
	$(PY) -m pytest -n auto --dist loadgroup

test-fast: lint  ## lint, then the fast inner loop: every test but the slow, browser and latex ones, one worker per core (about a minute)
	$(PY) -m pytest -n auto -m "not slow and not browser and not latex"

bench: $(STAMP)  ## benchmarks of the whole pipeline: a table, and _build/bench.json
	$(PY) benchmarks/run.py

check-lock:  ## resolve requirements.txt (and requirements-gpu.txt) for every platform and Python (needs the network)
	$(or $(wildcard .venv/bin/python),$(PYTHON)) scripts/check_lock.py requirements.txt
	$(or $(wildcard .venv/bin/python),$(PYTHON)) scripts/check_lock.py requirements-gpu.txt --platform linux --python 3.11.11 3.12.8 3.13.1  # GPU: 3.11.5+

publish: $(STAMP)  ## push _build/html to the gh-pages branch of REMOTE (refuses smoke, failed or stale books; FORCE=1)
	$(PY) -m coursebook publish --remote "$$REMOTE" $(if $(filter 1 yes true,$(FORCE)),--force)

pdf: $(STAMP)  ## the book as a PDF (_build/latex/coursebook.pdf), or one assignment: make pdf PART=aml (_build/pdf/aml.pdf)
	$(PY) -m coursebook pdf $(RUNNER_ARGS) $(if $(PART),--part "$$PART")

clean:  ## remove built HTML and executed chapters (keeps .venv, the data cache and the run store; RUNS=1 empties the store too)
	rm -rf _build book/chapters $(if $(filter 1,$(RUNS)),.cache/runs)
