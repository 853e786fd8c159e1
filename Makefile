# keel: `make run` serves every app with demo data; `make test` runs the checks and the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Test files run on this many processes (each with databases of its own).
TEST_WORKERS ?= 2

.PHONY: install run test lint format bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(INSTALLED)

run: install
	$(BIN)/keel migrate
	$(BIN)/keel seed
	$(BIN)/keel serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

bench: install
	$(BIN)/python -m bench.shop
	$(BIN)/python -m bench.fitness
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.coach
	$(BIN)/python -m bench.badge

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
