# MoodWatch: `make run` serves the embedded default; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
# The JavaScript packages served as static files (the patient app's LiteRT.js, the dashboard's Plotly
# basic bundle): `npm ci` from the committed package-lock.json, re-run only when the lock changes.
NODE_STAMP := node_modules/.package-lock.stamp

HOST ?= 127.0.0.1
PORT ?= 8000

# make test: the real PostgreSQL and Redis on this machine (pytest-django creates test_test).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: help venv npm run test stack-test lint services postgres redis worker beat schema chromium prometheus

help:
	@echo "make run    - set up .venv, migrate, DEMO clinician + 2 demo patients (a 14-day demo replay), serve on http://$(HOST):$(PORT)"
	@echo "make test   - set up .venv, start PostgreSQL and Redis if needed, run the whole suite"
	@echo "make stack-test - build the image and run docker-compose.yml on podman, end to end (deploy/stack_check.py)"
	@echo "make worker - a Celery worker (needs CELERY_BROKER_URL and DATABASE_URL)"
	@echo "make beat   - the Celery beat scheduler (runs the stuck-batch sweeper)"

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# Re-install only when requirements.txt changes.
$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

$(NODE_STAMP): package-lock.json package.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

npm: $(NODE_STAMP)

# VIDEO=path also uploads that video for the first demo patient; DEMO_STATE_DIR moves the simulated phones' state.
run: venv npm
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_run --host $(HOST) --port $(PORT) $(if $(VIDEO),--video "$(VIDEO)") \
		$(if $(DEMO_STATE_DIR),--state-dir "$(DEMO_STATE_DIR)")

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@pg_isready -h 127.0.0.1 -p 5432
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
		|| createdb -h 127.0.0.1 -U postgres test

redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { mkdir -p /var/lib/redis /var/log/redis; \
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log; }
	@for i in $$(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
	@echo "redis: $$(redis-cli -h 127.0.0.1 -p 6379 ping)"

services: postgres redis

# The browser test drives Debian's chromium through Playwright (Playwright never downloads a browser);
# ffmpeg makes the patient app test's fake camera (a y4m of real photos); poppler-utils' pdftoppm
# turns the printed summary's PDF pages into images the print test checks.
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ffmpeg poppler-utils; }

# Debian's prometheus and promtool: tests/deploy/test_prometheus.py checks the alert rules and scrapes a live server.
prometheus:
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

# Lint and import order (ruff), then the import contracts (import-linter: the layers of
# docs/architecture.md), both configured in pyproject.toml: part of `make test`, so CI fails on them.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: venv npm lint services chromium prometheus
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) DJANGO_ENV=test \
		$(PY) -m pytest $(PYTEST_ARGS)

# The real image and docker-compose.yml, run on podman (see deploy/stack_check.py): run by .ci/run after make test.
stack-test: venv npm
	@for tool in podman runc mmdebstrap; do command -v $$tool >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap; break; }; done
	$(PY) deploy/stack_check.py

worker: venv
	$(VENV)/bin/celery -A backend worker --loglevel=INFO

beat: venv
	$(VENV)/bin/celery -A backend beat --loglevel=INFO

schema: venv
	$(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yml
