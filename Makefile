# Varco — the two commands: `make run` (set up + serve the demo) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: node run test drills fuzz install dev-install chromium fonts migrate serve worker lint bench-tickets bench-checkin bench-attendance bench-badges clean messages frontend frontend-deps

$(VENV)/bin/activate:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install -q -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev-install: $(VENV)/.dev-installed

# Debian's chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# Node.js and npm for the frontend build and the door page's own tests (node --test); running
# Varco needs neither (the bundles are committed).
node:
	@{ command -v node && command -v npm; } >/dev/null || { \
	  echo "installing Debian's nodejs and npm for the frontend build and tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm >/dev/null; fi; }

# Debian's fonts for names in scripts DejaVu Sans lacks (tickets/documents/pdf.py FALLBACK_FONTS: Noto
# for Arabic, Hebrew, Indic and Thai, Droid Sans Fallback for Chinese/Japanese, Nanum for
# Korean, Symbola for emoji) and poppler-utils (pdftoppm) to look at a rendered ticket.
FONT_PACKAGES := fonts-noto-core fonts-droid-fallback fonts-nanum fonts-symbola poppler-utils
fonts:
	@test -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf \
	  -a -e /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf \
	  -a -e /usr/share/fonts/truetype/nanum/NanumGothic.ttf \
	  -a -e /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf || { \
	  echo "installing Debian's fonts for the ticket PDFs"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(FONT_PACKAGES) >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(FONT_PACKAGES) >/dev/null; fi; }

migrate: install
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py collectstatic --no-input -v0

## make run: install, migrate, seed the demo, start a background worker and serve on :8000
run: migrate
	$(PY) manage.py seed_demo --attendees 300 --export var/demo
	@echo "Starting the worker and the web server on http://$(HOST):$(PORT)/ (Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(PY) -m worker --concurrency 2 >var/worker.log 2>&1 & \
	  $(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) backend.wsgi

serve: migrate
	$(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) backend.wsgi

worker: install
	$(PY) -m worker

## make test: the whole suite (SQLite by default; DATABASE_URL/REDIS_URL select real services).
## It includes tests/system/test_frontend_bundles.py, which rebuilds the JS bundles with node (npm
## packages from package-lock.json) and fails if the committed ones differ.
test: dev-install chromium fonts frontend-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

## make drills: only the fault drills (real worker, Redis, SMTP, gunicorn, PostgreSQL; needs
## DATABASE_URL=postgres://... REDIS_URL=redis://...), printing what each did and counted
drills: dev-install
	$(PY) -m pytest -m drills -s $(PYTEST_ARGS)

## make fuzz: only the schemathesis run over the whole API (make test includes it)
fuzz: dev-install
	$(PY) -m pytest -m schemathesis $(PYTEST_ARGS)

lint: dev-install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## make frontend: the one build of the door page's and the dashboard's JS (checkin/frontend/src,
## translations from checkin/locale) into checkin/static/checkin/ (committed) with npm
FRONTEND := checkin/frontend
$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json | node
	cd $(FRONTEND) && npm ci --no-audit --no-fund

frontend-deps: $(FRONTEND)/node_modules/.package-lock.json

frontend: frontend-deps
	cd $(FRONTEND) && npm run build

## make bench-checkin: scan endpoint under gunicorn on PostgreSQL (outside CI; see docs/benchmarks.md)
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/varco_bench
bench-checkin: dev-install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) benchmarks/bench_checkin.py $(BENCH_ARGS)

## make bench-attendance: live dashboards under a scan load (PostgreSQL, gunicorn; not in CI).
## BENCH_DATABASE_URL names a database it may empty and fill (default varco_bench_attendance).
bench-attendance: dev-install
	$(PY) benchmarks/bench_attendance.py $(BENCH_ARGS)

clean:
	rm -rf var/varco.sqlite3 var/broker var/cache var/mail var/static

## make bench-badges: badge rendering (bulk and one per PDF) vs a raw reportlab floor in the same
## run (no database; benchmarks/bench_badges.py). Not in CI.
bench-badges: dev-install fonts
	$(PY) benchmarks/bench_badges.py $(BENCH_ARGS)

## make bench-tickets: PDF render vs a raw floor, and 5,000 tickets e-mailed end to end
## (needs PostgreSQL and Redis on 127.0.0.1; see benchmarks/bench_tickets.py). Not in CI.
bench-tickets: dev-install fonts
	$(PY) benchmarks/bench_tickets.py $(BENCH_ARGS)

## make messages: the one translation pipeline. Refreshes each app's catalogue (one .po per app:
## Python, templates and the door page's JS; GNU gettext's xgettext needed for this step only),
## compiles the .mo in pure Python (polib), then rebuilds the JS bundles, whose texts come from
## the same .po (core/management/commands/refresh_messages.py explains).
messages: dev-install
	$(PY) manage.py refresh_messages
	$(MAKE) frontend
