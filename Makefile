# The two set-up commands of the README, and the pieces they are made of.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint fuzz coverage bench-gas

$(BIN)/hub: pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, pinned, so pip takes the local CPU build instead of several GB of CUDA wheels
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,build,demo]'
	touch $(BIN)/hub

install: $(BIN)/hub

# The main job, end to end on the embedded default network.
demo: install
	$(BIN)/hub demo

# Every test: contracts, hub against a real local node, dashboard in a real headless Chromium,
# trainer with real peers, fuzz: three pytest processes side by side (scripts/test.sh says why).
test: install lint
	bash scripts/install-browser.sh
	bash scripts/test.sh

# ruff's lint rules and its formatting, as the code is kept (seconds).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fuzz: install
	$(BIN)/pytest -q fuzz

# Line and branch coverage of each contract from the contract tests and a short fuzz run
# (Titanoboa's plugin for coverage.py, configured in .coveragerc); bench/RESULTS.md says why each
# uncovered line is not reached.
coverage: install
	mkdir -p build/coverage
	CI=true $(BIN)/pytest -q tests/contracts fuzz --ignore=fuzz/findings --hypothesis-profile=coverage \
		--cov --cov-config=.coveragerc --cov-report=term-missing

bench-gas: install
	$(BIN)/python bench/gas.py
