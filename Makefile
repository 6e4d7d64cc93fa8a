# coursebook — see README.md. Every target bootstraps .venv from requirements.txt on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-$(shell sha256sum requirements.txt | cut -c1-16)

PROFILE ?= quick
DATA ?=
JOBS ?= 1
CHAPTER ?=
PARAMS ?=
REMOTE ?= origin
FORCE ?=
PART ?=
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONPATH := $(CURDIR)
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
export XLA_PYTHON_CLIENT_PREALLOCATE ?= false  # JAX: take GPU memory as needed, so chapters can share a GPU

RUNNER_ARGS = --profile "$(PROFILE)" --jobs "$(JOBS)" $(if $(DATA),--data "$(DATA)")

.PHONY: book run test bench publish pdf venv clean help

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: $(STAMP)  ## create .venv and install the pinned requirements (only when requirements.txt changed)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing requirements.txt into $(VENV) ..."
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.requirements-*
	@touch $@

book: $(STAMP)  ## execute every out-of-date chapter, then build _build/html
	$(PY) -m coursebook build $(RUNNER_ARGS)

run: $(STAMP)  ## re-execute one chapter: make run CHAPTER=<id> PARAMS="key=value ..."
	@test -n "$(CHAPTER)" || { echo "make run: set CHAPTER=<id> (see _toc.yml)"; exit 2; }
	$(PY) -m coursebook build $(RUNNER_ARGS) --chapter "$(CHAPTER)" --set $(PARAMS)

test: $(STAMP)  ## the test suite (what CI runs)
	$(PY) -m pytest

bench: $(STAMP)  ## benchmarks: data generation/loading and seconds per epoch, printed as ratios
	$(PY) benchmarks/run.py

publish: $(STAMP)  ## push _build/html to the gh-pages branch of REMOTE (refuses smoke, failed or stale books; FORCE=1)
	$(PY) -m coursebook publish --remote "$(REMOTE)" $(if $(filter 1 yes true,$(FORCE)),--force)

pdf: $(STAMP)  ## the book as a PDF (_build/latex/coursebook.pdf), or one assignment: make pdf PART=aml (_build/pdf/aml.pdf)
	$(PY) -m coursebook pdf $(RUNNER_ARGS) $(if $(PART),--part "$(PART)")

clean:  ## remove built HTML and executed chapters (keeps .venv and the data cache)
	rm -rf _build book/chapters
