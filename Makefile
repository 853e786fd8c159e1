# keel: `make run` serves every app with demo data; `make test` runs the checks and the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Test files run on this many processes (each with databases of its own).
TEST_WORKERS ?= 2
# The admin console (console/, Vue): built into the package, which serves it at /admin.
CONSOLE_DEPS := console/node_modules/.installed
CONSOLE_BUILT := src/keel/console/dist/index.html
CONSOLE_SOURCES := $(shell find console/src -type f) console/index.html console/vite.config.js

.PHONY: install console run test lint format bench clean

install: $(INSTALLED) console

# Without npm the API still runs: say so and go on, never fail the install.
console:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(CONSOLE_BUILT); \
	else \
		echo "npm not found: the admin console is not built; the API runs without it"; \
	fi

$(CONSOLE_DEPS): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund
	touch $(CONSOLE_DEPS)

$(CONSOLE_BUILT): $(CONSOLE_DEPS) $(CONSOLE_SOURCES)
	cd console && npm run build

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

test: install lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

bench: install
	$(BIN)/python -m bench.shop
	$(BIN)/python -m bench.fitness
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.coach
	$(BIN)/python -m bench.badge

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache console/node_modules src/keel/console/dist
