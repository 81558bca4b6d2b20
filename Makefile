# Varco — the two commands: `make run` (set up + serve the demo) and `make test` (whole suite).
SHELL := /bin/bash
# Python: any python3 >= 3.11 on the PATH, the first of these that runs (a pyenv shim of a
# version that is not enabled exists but fails, hence running each, not `command -v`);
# PYTHON=/path/to/python3.x picks one. VENV: where the environment goes (.ci/run keeps one per
# Python: VENV=.venv-3.13).
PYTHON_CANDIDATES := python3 python3.13 python3.12 python3.11
ifndef PYTHON
PYTHON := $(shell for c in $(PYTHON_CANDIDATES); do \
  $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$c; break; }; done)
endif
VENV ?= .venv
PY := $(VENV)/bin/python
# make run / serve: where gunicorn listens. The links Varco prints, exports and e-mails (SITE_URL)
# follow HOST and PORT unless SITE_URL is set (an IPv6 HOST is bracketed in both).
HOST ?= 127.0.0.1
PORT ?= 8000
URL_HOST = $(if $(findstring :,$(HOST)),[$(HOST)],$(HOST))
BIND = $(URL_HOST):$(PORT)
run serve worker: export SITE_URL ?= http://$(URL_HOST):$(PORT)

.PHONY: node pgbouncer system-packages run test drills event-day drill-scale scale-packages fuzz install dev-install chromium fonts cups migrate serve worker lint bench-registration bench-tickets bench-checkin bench-attendance bench-badges bench-scale bench-print clean messages frontend frontend-deps

$(VENV)/bin/activate:
	@[ -n "$(PYTHON)" ] || { echo "Varco needs Python 3.11 or newer: none of $(PYTHON_CANDIDATES)" \
	  "on the PATH runs as one. Install one, or set PYTHON=/path/to/python3.x" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "PYTHON=$(PYTHON) is not a Python 3.11 or newer" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Every setuptools editable mode prints a boxed "be careful" banner (a UserWarning of the build
# backend, whose process inherits PYTHONWARNINGS); the code that runs is the working tree's.
PIP_INSTALL := PYTHONWARNINGS=ignore::UserWarning $(PY) -m pip install -q
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP_INSTALL) -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev-install: $(VENV)/.dev-installed

# Debian's chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# Debian's pgbouncer for the tests of the scan path through a transaction-mode pooler
# (tests/checkin/test_pgbouncer.py starts its own; docs/shared-state.md). The tests run it
# from /usr/sbin, which is not on every user's PATH, hence the file test.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || command -v pgbouncer >/dev/null || { \
	  echo "installing Debian's pgbouncer for the pooler tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq pgbouncer >/dev/null; fi; }

## make system-packages: every Debian package the tests use (chromium, node, fonts, pgbouncer, and
## the scale drill's haproxy, redis-server, postgresql-15, the print agent's CUPS)
system-packages: chromium node fonts pgbouncer scale-packages cups

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

# Debian's CUPS for the print agent's tests (tests/support/cups_server.py starts its own cupsd
# with a cups-pdf virtual printer) and ipptool (cups-ipp-utils), the agent's IPP client.
# Next to a real printer the agent needs only cups-ipp-utils (docs/badges.md, "Print agent").
CUPS_PACKAGES := cups cups-ipp-utils printer-driver-cups-pdf
cups:
	@{ command -v ipptool && test -x /usr/sbin/cupsd -a -e /usr/lib/cups/backend/cups-pdf; } >/dev/null || { \
	  echo "installing Debian's CUPS and cups-pdf for the print agent's tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(CUPS_PACKAGES) >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(CUPS_PACKAGES) >/dev/null; fi; }

# Debian's HAProxy, PgBouncer and Redis for the scale drill (make drill-scale and its small
# version in the tests); PostgreSQL 15's binaries (postgresql-15) are already a dependency of
# the test databases. The packages' own services are not started (the drill starts its own).
SCALE_PACKAGES := haproxy pgbouncer redis-server postgresql-15
scale-packages:
	@{ command -v haproxy && command -v pgbouncer && command -v redis-server \
	  && test -x /usr/lib/postgresql/15/bin/initdb; } >/dev/null || { \
	  echo "installing Debian's $(SCALE_PACKAGES) for the scale drill"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(SCALE_PACKAGES) >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(SCALE_PACKAGES) >/dev/null; fi; }

migrate: install
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py collectstatic --no-input -v0

## make run: install, migrate, seed the demo, start a background worker and serve on HOST:PORT
## (127.0.0.1:8000). Ctrl-C (or a TERM to make) stops both: the trap stops them once, and waits.
## (`trap 'kill 0' INT TERM EXIT` signalled its own shell, whose trap signalled it again: bash
## recursed until it crashed, "Segmentation fault", leaving the worker behind.) Both run in the
## background so that `wait` returns at once on a signal; a TERM to a foreground command's shell
## waits for the command to end first.
run: migrate
	$(PY) manage.py seed_demo --attendees 300 --export var/demo
	@echo "Starting the worker and the web server on $$SITE_URL/ (Ctrl-C stops both)"
	@worker= web=; \
	  stop() { trap - INT TERM EXIT; echo "Stopping (the worker first finishes the e-mails in hand)"; \
	    kill -TERM $$web $$worker 2>/dev/null; wait; }; \
	  trap 'stop; exit 0' INT TERM; trap stop EXIT; \
	  $(PY) -m worker --concurrency 2 >var/worker.log 2>&1 & worker=$$!; \
	  $(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(BIND) backend.wsgi & web=$$!; \
	  wait $$web

serve: migrate
	$(VENV)/bin/gunicorn -c gunicorn.conf.py --bind $(BIND) backend.wsgi

worker: install
	$(PY) -m worker

## make test: the whole suite (SQLite by default; DATABASE_URL/REDIS_URL select real services).
## It includes tests/system/test_frontend_bundles.py, which rebuilds the JS bundles with node (npm
## packages from package-lock.json) and fails if the committed ones differ.
test: dev-install chromium fonts cups pgbouncer scale-packages frontend-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

## make drills: only the fault drills (real worker, Redis, SMTP, gunicorn, PostgreSQL; needs
## DATABASE_URL=postgres://... REDIS_URL=redis://...), printing what each did and counted
drills: dev-install
	$(PY) -m pytest -m drills -s $(PYTEST_ARGS)

## make event-day: the convegno day drill (docs/event-day.md): 600 rush + 100 invited, 3 gates,
## on loopback against gunicorn, the worker and an SMTP relay (PostgreSQL + Redis when
## DATABASE_URL/REDIS_URL are set, else embedded); prints the reconciliation, exits non-zero on
## any mismatch. DAY_ARGS passes more options (python manage.py simulate_day --help).
ATTENDEES ?= 600
event-day: dev-install
	$(PY) manage.py simulate_day --attendees $(ATTENDEES) --json-out var/event-day/day.json \
	  --html-out var/event-day/day.html $(DAY_ARGS)

## make drill-scale: the multi-host drill (docs/scaling.md): HAProxy on 127.0.0.1, three gunicorn
## hosts on 127.0.0.2-4, two workers and a scheduler, PgBouncer (transaction mode), a PostgreSQL
## 15 primary + synchronous standby of its own (temporary clusters on free ports), Redis, an SMTP
## sink; a web host and a worker SIGKILLed, the standby promoted, Redis restarted, under a scan
## wave from 20 devices. Prints each step and its counts; exits non-zero on any mismatch.
## SCALE_ARGS passes more options (python manage.py drill_scale --help).
drill-scale: dev-install scale-packages
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py drill_scale --json-out var/scale-drill.json $(SCALE_ARGS)

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

## make bench-registration: the public registration rush under gunicorn on PostgreSQL with a
## Redis broker (not in CI). BENCH_DATABASE_URL / BENCH_REDIS_URL name a database and a Redis db
## it may fill and empty (defaults varco_bench_registration, redis db 15); docs/benchmarks.md.
bench-registration: dev-install
	$(PY) benchmarks/bench_registration.py $(BENCH_ARGS)

## make bench-attendance: live dashboards under a scan load (PostgreSQL, gunicorn; not in CI).
## BENCH_DATABASE_URL names a database it may empty and fill (default varco_bench_attendance).
bench-attendance: dev-install
	$(PY) benchmarks/bench_attendance.py $(BENCH_ARGS)

clean:
	rm -rf var/varco.sqlite3 var/broker var/cache var/mail var/static

## make bench-scale: the scan endpoint through HAProxy + PgBouncer beside the direct path, in one
## run, on the scale drill's own PostgreSQL primary + synchronous standby (docs/benchmarks.md). Not in CI.
bench-scale: dev-install scale-packages
	env -u DATABASE_URL $(PY) benchmarks/bench_scale.py $(BENCH_ARGS)

## make bench-print: what print on arrival costs an admitted scan (no receiver, a list that prints
## nothing, a badge handed over, a badge queued in the request) on PostgreSQL (+ REDIS_URL if set).
bench-print: dev-install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) benchmarks/bench_print_receiver.py $(BENCH_ARGS)

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
