# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install clean conformance web

# The console: node packages from the committed lock file, bundled into the Python package
# (src/deconfliction/web/static), so the service and a wheel serve it with no network.
WEB := src/deconfliction/web/static/.built
WEB_SOURCES := $(wildcard console/src/*) console/index.html console/build.mjs \
	src/deconfliction/sim/data/levant-10m.geojson
NODE_STAMP := console/node_modules/.package-lock.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	@echo "compiling the detection kernels (about a minute, once)"
	$(BIN)/python -c 'from deconfliction.config.settings import Settings; \
		from deconfliction.usecases.warmup import warm_up; warm_up(Settings())'
	touch $(STAMP)

install: $(STAMP)

$(NODE_STAMP): console/package-lock.json
	@command -v npm >/dev/null 2>&1 || bash scripts/node.sh
	cd console && npm ci --no-audit --no-fund
	touch $@

$(WEB): $(NODE_STAMP) $(WEB_SOURCES)
	cd console && npm run --silent build
	touch $@

web: $(WEB)

demo: $(STAMP) $(WEB)
	$(BIN)/deconfliction demo $(DEMO_ARGS)

test: $(STAMP) $(WEB)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	@# PostgreSQL tests start their own server; installing it here keeps apt out of test timeouts.
	@bash scripts/postgres.sh install || echo "no PostgreSQL: its tests skip (and fail under CI)"
	@# The console's browser tests drive Debian's Chromium (never a downloaded browser).
	@bash scripts/chromium.sh >/dev/null || echo "no Chromium: browser tests skip (and fail under CI)"
	$(BIN)/pytest -q

# InterUSS's DSS prober (its scd tests) against /dss/v1 on 127.0.0.1, in .venv-prober
# (Python 3.13); `make conformance ARGS=--postgres` runs it on PostgreSQL.
conformance: $(STAMP)
	bash scripts/conformance.sh $(ARGS)

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/strategic.py
	$(BIN)/python bench/tactical.py

clean:
	rm -rf $(VENV) .venv-prober .pytest_cache .mypy_cache .ruff_cache console/node_modules src/deconfliction/web/static
