# Set-up and checks. `make test` creates .venv when missing, installs, and runs the fast suite.
# torch is installed first, pinned, so that no multi-GB CUDA build is pulled on a CPU machine;
# everything else is installed with constraints.txt, which pins torch too.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test test-slow test-all lint demo clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest -m "not slow" -q $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m slow -q $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check workbench tests benchmarks

clean-venv:
	rm -rf $(VENV)
