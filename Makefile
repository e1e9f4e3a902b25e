# The README's first two commands: `make demo` and `make test`. Both set up .venv when missing.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.songpop-installed
DOCS_STAMP := $(VENV)/.songpop-docs-installed

.PHONY: demo test test-fast lint bench docs clean

# torch is installed first, pinned: the CPU build that lies on this machine's disk
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/songpop demo

# ruff, and the layers declared in pyproject.toml: no import cycle, no upward import
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# the whole suite, one pytest-xdist worker per core (tests/conftest.py shares the threads)
test: lint
	$(PY) -m pytest -n auto --dist loadfile

# the inner loop: every test but those marked slow
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" -n auto --dist loadfile

bench: $(STAMP)
	$(PY) -m benchmarks

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $(DOCS_STAMP)

# builds the site with warnings as errors and runs every example
docs: $(DOCS_STAMP)
	MPLBACKEND=Agg $(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) songpop_output .songpop_cache .pytest_cache docs/_build docs/auto_examples docs/generated
