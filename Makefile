# Set-up and checks. `make test` creates .venv when missing, installs, and runs the fast suite.
# torch is installed first, pinned, so that no multi-GB CUDA build is pulled on a CPU machine;
# everything else is installed with constraints.txt, which pins torch too.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test test-slow test-all test-notebooks lint demo chromium test-browser clean-venv gpu-check

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

FAST := not slow and not notebooks and not browser
test: install
	$(PY) -m pytest -m "$(FAST)" -q $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m "slow and not notebooks and not browser" -q $(PYTEST_ARGS)

test-all: install chromium
	WORKBENCH_REQUIRE_BROWSER=1 $(PY) -m pytest -q $(PYTEST_ARGS)

# The notebooks, executed top to bottom on a small subset (WORKBENCH_NOTEBOOK_SMALL=1, set by the test).
test-notebooks: install
	$(PY) -m pytest -m notebooks -q tests/test_notebooks.py $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check workbench tests benchmarks

# On a CUDA machine: one table of parity, throughput, device_map="auto" and peak GPU memory; without CUDA: one line, exit 0.
gpu-check: install
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) benchmarks/gpu_check.py

# The main job, offline: the embedded Gemma 3 270M on the bundled corpus -> runs/gemma-3-270m-bundled/report.html.
# DEMO_ARGS adds `workbench run` options (e.g. DEMO_ARGS="--emotions 20 --out runs/quick").
DEMO_ARGS ?=
demo: install
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(VENV)/bin/workbench run $(DEMO_ARGS)

# Debian's chromium for the browser test, installed only when missing (apt-get needs root: sudo otherwise).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || ($(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The report in headless Chromium; fails (instead of skipping) when chromium is missing.
test-browser: install chromium
	WORKBENCH_REQUIRE_BROWSER=1 $(PY) -m pytest -m browser -q tests/test_browser.py $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
