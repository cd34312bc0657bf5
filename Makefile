# waternet: the README's two commands are `make demo` and `make test`; each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
WEB    := node_modules/.installed-stamp

.PHONY: demo test check lint format typecheck contracts bench venv web clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Leaflet for the dispatch map comes from npm (not copied into the repository).
$(WEB): package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-audit --no-fund --silent && touch $(WEB); \
	else \
		echo "npm not found: the map page needs Leaflet from npm (apt-get install npm)"; exit 1; \
	fi

web: $(WEB)

demo: $(STAMP) $(WEB)
	$(BIN)/waternet demo

test: $(STAMP) $(WEB)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# ruff (lint and format), mypy (strict for src/waternet) and the import-linter contracts.
check: lint typecheck contracts

PY_TREES := src simulators tests bench alembic

lint: $(STAMP)
	$(BIN)/ruff check $(PY_TREES)
	$(BIN)/ruff format --check $(PY_TREES)

format: $(STAMP)
	$(BIN)/ruff format $(PY_TREES)
	$(BIN)/ruff check --fix $(PY_TREES)

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/isolation.py

clean:
	rm -rf $(VENV) node_modules .waternet .pytest_cache
