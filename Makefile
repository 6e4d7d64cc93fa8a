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
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONPATH := $(CURDIR)
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
export XLA_PYTHON_CLIENT_PREALLOCATE ?= false  # JAX: take GPU memory as needed, so chapters can share a GPU

NOWAIT ?=
# The values reach the runner through the environment ("$$NAME"), never as shell text, so no value is
# ever run by the shell; the runner checks them and says what is wrong in one line. set -f: no globbing.
export PROFILE DATA JOBS CHAPTER PARAMS NOWAIT
RUNNER_ARGS = --profile "$$PROFILE" --jobs "$$JOBS" $(if $(DATA),--data "$$DATA") $(if $(NOWAIT),--no-wait)

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

book: $(STAMP)  ## execute every out-of-date chapter, then build _build/html (NOWAIT=1: refuse if another build runs)
	set -f; $(PY) -m coursebook build $(RUNNER_ARGS) $(if $(PARAMS),--set $$PARAMS)

run: $(STAMP)  ## re-execute one chapter: make run CHAPTER=<id> PARAMS="key=value ..."
	@test -n "$$CHAPTER" || { echo "error: command line: make run needs CHAPTER=<id> (the book/chapters/<id> entries of _toc.yml)" >&2; exit 2; }
	set -f; $(PY) -m coursebook build $(RUNNER_ARGS) --chapter "$$CHAPTER" --set $$PARAMS

test: $(STAMP)  ## the test suite (what CI runs)
	$(PY) -m pytest

bench: $(STAMP)  ## benchmarks: data generation/loading and seconds per epoch, printed as ratios
	$(PY) benchmarks/run.py

publish: $(STAMP)  ## push _build/html to the gh-pages branch
	@test -f _build/html/index.html || { echo "make publish: build the book first (make book)"; exit 2; }
	$(VENV)/bin/ghp-import --no-jekyll --push --force _build/html

pdf: $(STAMP)  ## build the PDF book with xelatex into _build/latex
	$(PY) -m coursebook build $(RUNNER_ARGS) --builder pdflatex

clean:  ## remove built HTML and executed chapters (keeps .venv and the data cache)
	rm -rf _build book/chapters
