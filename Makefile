# Two entry points for a fresh machine with only Python 3.11:
#   make demo   - create .venv, install crmcli, build a demo database and show the dashboard
#   make test   - create .venv, install crmcli with its dev tools, run the whole test suite
# Also: make test-fast (skips tests marked slow), make lint, make bench.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB ?= demo.db

.PHONY: demo test test-fast lint bench clean

$(BIN)/crm: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $(BIN)/crm

demo: $(BIN)/crm
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/crm --db $(DEMO_DB) demo

test: $(BIN)/crm
	$(BIN)/python -m pytest -q -n auto

test-fast: $(BIN)/crm
	$(BIN)/python -m pytest -q -n auto -m "not slow"

lint: $(BIN)/crm
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture src --min-confidence 80

bench: $(BIN)/crm
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .pytest_cache .mypy_cache .ruff_cache
