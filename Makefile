# Every target creates or reuses .venv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BACKENDS ?= tensorflow jax torch
PYTEST_ARGS ?=
TEST_SERIAL ?=

.PHONY: demo test fuzz lint docs bench bench-full clean

$(STAMP): requirements/dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements/dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/keras-embedx demo

lint: $(STAMP)
	$(BIN)/ruff check keras_embedx keras_embedx_cli tests benchmarks
	$(BIN)/ruff format --check keras_embedx keras_embedx_cli tests benchmarks

# The backends run side by side (TEST_SERIAL=1: one after the other).
test: lint
ifeq ($(TEST_SERIAL),1)
	@set -e; for b in $(BACKENDS); do \
	  echo "== pytest, KERAS_BACKEND=$$b"; \
	  KERAS_BACKEND=$$b $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); \
	done
else
	@scripts/test-backends $(BIN)/python "$(BACKENDS)" $(PYTEST_ARGS)
endif

# Long property-based fuzzing of the vector-file readers (FUZZ_EXAMPLES a test).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz KERAS_BACKEND=jax $(BIN)/python -m pytest -q -s \
	  -p no:cacheprovider tests/faults/test_faults_readers.py

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python -m benchmarks --quick --report

bench-full: $(STAMP)
	$(BIN)/python -m benchmarks --report

clean:
	rm -rf $(VENV) site build *.egg-info
