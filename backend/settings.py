"""Varco settings.

Every setting comes from an environment variable with a documented default (see README,
"Configuration"). The defaults give the embedded mode: SQLite under ``var/``, no Redis (Celery
uses a file-system broker under ``var/``), e-mails written to files under ``var/``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from pathlib import Path

import csp.constants as csp
import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from backend import keys
from core import languages

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VARCO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: expected true/false")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r}: expected an integer") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# VARCO_PRODUCTION=true (docker-compose sets it): secrets from the environment, strong, no debug.
PRODUCTION = env_bool("VARCO_PRODUCTION", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DEBUG=true is refused with VARCO_PRODUCTION=true: debug pages show settings and code"
    )
# From the environment; without it (not in production) a random key made on the first start
# and kept in var/secret_key. Weak or published keys are refused (backend/keys.py).
SECRET_KEY = keys.secret_key(VAR_DIR, PRODUCTION)
# Fernet keys encrypting the events' private signing keys at rest, the newest first (rotation:
# README, "Operations"); without VARCO_ENCRYPTION_KEYS (not in production), var/encryption_key.
VARCO_ENCRYPTION_KEYS = keys.encryption_keys(VAR_DIR, PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # First, so that its templates (admin/base_site.html: brand, language switch) win.
    "console",
    # Django's admin with the console's site (console/apps.py) as ``admin.site``.
    "console.apps.VarcoAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "core",
    "audit",
    "tickets",
    "checkin",
    "badges",
    # The project itself: its management commands (simulate_day, the event-day drill).
    "backend",
]

MIDDLEWARE = [
    # First, so that it times the whole stack (core/metrics.py: requests over 1 s).
    "core.metrics.SlowRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.request_limits.BodySizeLimitMiddleware",
    # A NUL in a query parameter: 400 before any view passes it to PostgreSQL.
    "core.query_params.QueryParamsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who acts, for the audit log (read lazily: DRF sets request.user after token auth).
    "audit.context.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'varco.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
# Behind a pooler in transaction mode (PgBouncer's pool_mode = transaction): a client's
# consecutive transactions may run on different server connections, so nothing may outlive a
# transaction on the server. Django's server-side cursors (``QuerySet.iterator()`` outside a
# transaction uses a WITH HOLD cursor) are turned off, and so is the scan statement's prepared
# statement and its session settings (VARCO_DB_PREPARED below; docs/shared-state.md).
DB_TRANSACTION_POOLING = env_bool("DB_TRANSACTION_POOLING", False)
if DB_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, with the per-request health check skipped for a connection used less
    # than a second ago (backend/postgres/base.py says why).
    DATABASES["default"]["ENGINE"] = "backend.postgres"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and the local worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    # Embedded mode: a file-system broker shared by the web process and the local worker.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # A host name it ignores, so kombu does not warn "No hostname was supplied" at every start.
    CELERY_BROKER_URL = "filesystem://localhost/"
    # kombu's filesystem transport with whole messages only (why: worker/broker.py)
    CELERY_BROKER_TRANSPORT = "worker.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's default is ./control, i.e. files in whatever directory the process runs in.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Run tasks inline (no broker at all); used by unit tests.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queues, by task name: e-mail sending has its own, so a long batch never holds up the rest;
# ``python -m worker`` listens on the default queue and on every queue routed to here.
CELERY_TASK_DEFAULT_QUEUE = "varco"
CELERY_TASK_ROUTES = {
    "tickets.send_deliveries": {"queue": "deliveries"},
    "tickets.sweep_deliveries": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "badges.sweep_print_jobs": {"queue": CELERY_TASK_DEFAULT_QUEUE},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# PEM file of the CA that signed the SMTP server's certificate (a private relay's CA); empty:
# the system's CAs. A client certificate, if the relay wants one: EMAIL_SSL_CERTFILE/KEYFILE.
EMAIL_SSL_CAFILE = os.environ.get("EMAIL_SSL_CAFILE", "") or None
EMAIL_SSL_CERTFILE = os.environ.get("EMAIL_SSL_CERTFILE", "") or None
EMAIL_SSL_KEYFILE = os.environ.get("EMAIL_SSL_KEYFILE", "") or None
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Varco <tickets@varco.invalid>")
if EMAIL_HOST:
    EMAIL_BACKEND = "tickets.delivery.connection.EmailBackend"
else:
    # Embedded mode: one .eml file per message (core/mail_files.py), a mail client opens it.
    EMAIL_BACKEND = "core.mail_files.EmlFileBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# --- Auth, i18n, static ---------------------------------------------------------------------
# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
LANGUAGE_CODE = "it"
LANGUAGES = list(languages.LANGUAGES)  # core/languages.py: the one list
# Apps keep their own catalogues (tickets/locale, checkin/locale); `make messages` refreshes them.
LOCALE_PATHS: list[Path] = []
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Organiser tokens, stored as SHA-256 (tickets.ApiToken).
        "tickets.auth.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Per-user budget for authenticated calls (VARCO_API_RATE); anonymous calls are not counted
    # here (the public registration has its own per-address limit).
    "DEFAULT_THROTTLE_CLASSES": ["core.rate_limits.OrganiserThrottle"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.api.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Varco API",
    "DESCRIPTION": "Conference ticketing and check-in.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Self-hosted Swagger UI: the docs page works without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One enum for every language field (attendee, registration, event languages).
    "ENUM_NAME_OVERRIDES": {"LanguageEnum": "core.languages.LANGUAGES"},
    # The door API is plain Django views (off DRF for speed): a hook documents it.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "checkin.api.schema.add_door_api",
    ],
}

# --- Abuse limits (docs/hardening.md) ------------------------------------------------------
# How many reverse proxies (nginx, a load balancer) append to X-Forwarded-For in front of the
# app. 0: the client is REMOTE_ADDR and X-Forwarded-For is ignored, so nobody can pick their own
# address to dodge a limit. Behind one proxy set 1, or every client shares the proxy's address.
VARCO_NUM_PROXIES = env_int("VARCO_NUM_PROXIES", 0)
REST_FRAMEWORK["NUM_PROXIES"] = VARCO_NUM_PROXIES


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as ``30/min``; ``off`` disables the limit."""
    value = os.environ.get(name) or default
    if value.lower() in {"off", "none", "0"}:
        return None
    count, _, period = value.partition("/")
    if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{name}={value!r}: expected e.g. 30/min, 1000/hour or off")
    return value


# Public self-registration, per client address.
VARCO_REGISTRATION_RATE = env_rate("VARCO_REGISTRATION_RATE", "30/min")
# Every organiser API call (token or session), per user.
VARCO_API_RATE = env_rate("VARCO_API_RATE", "1200/min")
# CSV imports (each parses up to VARCO_MAX_IMPORT_BYTES and writes thousands of rows), per user.
VARCO_IMPORT_RATE = env_rate("VARCO_IMPORT_RATE", "60/hour")
# "Send my ticket again" on the public pages: per client address, and per address asked for
# (whoever asks: one attendee's mailbox cannot be flooded from many connections).
VARCO_TICKET_RESEND_RATE = env_rate("VARCO_TICKET_RESEND_RATE", "10/hour")
VARCO_TICKET_RESEND_ADDRESS_RATE = env_rate("VARCO_TICKET_RESEND_ADDRESS_RATE", "3/hour")

# Login (admin and session): django-axes locks a username out from one client address after
# this many failures, for this long; a success resets the count. Records live in the database.
AXES_FAILURE_LIMIT = env_int("VARCO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("VARCO_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A 429 page in the admin's look saying how long to wait (JSON for scripts).
AXES_LOCKOUT_CALLABLE = "core.login_lockout.lockout_response"
# The same client address as the throttles (VARCO_NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "core.request_limits.client_ip"
# Successful logins are logged by Django already; keep axes' table to failures.
AXES_DISABLE_ACCESS_LOG = True

# Request bodies. JSON and forms: at most VARCO_MAX_BODY_BYTES. The CSV import accepts files up
# to VARCO_MAX_IMPORT_BYTES (plus multipart framing). Larger bodies get a JSON 413 before any of
# the body is read (core/request_limits.py); endpoints may declare a lower limit.
VARCO_MAX_BODY_BYTES = env_int("VARCO_MAX_BODY_BYTES", 256 * 1024)
VARCO_MAX_IMPORT_BYTES = env_int("VARCO_MAX_IMPORT_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = VARCO_MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# An uploaded CSV stays in memory (its size is already bounded) instead of a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = VARCO_MAX_IMPORT_BYTES + 64 * 1024

# --- Security headers (docs/hardening.md) --------------------------------------------------


def _style_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


# Same-origin scripts and styles only, nothing inline (the API docs page loads its set-up script
# and its page rules from URLs: backend/urls.py, core/templates/core/swagger_ui.html);
# data: images for the Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        # Pages that must work offline from one cached HTML file (the door page) keep their
        # stylesheet inline, allowed by the per-response nonce.
        "style-src": [csp.SELF, csp.NONCE],
        # The one inline style attribute of the browsable API's pages (DRF's "Extra Actions"
        # menu), allowed by its hash alone; tests/browser/test_pages.py notices if DRF changes it.
        "style-src-attr": [csp.UNSAFE_HASHES, _style_hash("float: right; margin-right: 10px")],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}
# Powerful browser features are off, except the camera for this origin's own pages (the door
# scanner reads QR codes with it).
PERMISSIONS_POLICY = {
    "camera": ["self"],
    "microphone": [],
    "geolocation": [],
    "payment": [],
    "usb": [],
    "serial": [],
    "hid": [],
    "display-capture": [],
    "browsing-topics": [],
}

# --- Production hardening (VARCO_PRODUCTION=true, as docker-compose sets) ----------------------
# (PRODUCTION itself is read at the top, with the secrets.)
if PRODUCTION:
    # TLS ends at the reverse proxy, which must set X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    # Preloading is a manual, hard-to-undo submission per domain: the operator's call.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# LOG_FORMAT=json gives one JSON object per line, for log shippers; "plain" reads better locally.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes announces its configuration at every start of every process.
        "axes.apps": {"level": "WARNING"},
    },
}

# --- Varco ----------------------------------------------------------------------------------
# Live attendance (checkin/attendance/): how often the figures catch up with the scan log,
# and how many dashboard streams a web process serves (each holds one of its threads).
VARCO_ATTENDANCE_TICK_MS = env_int("VARCO_ATTENDANCE_TICK_MS", 500)
VARCO_LIVE_STREAMS_PER_PROCESS = env_int("VARCO_LIVE_STREAMS_PER_PROCESS", 2)
# Fair shares of those: the most one organiser's dashboards, and one user's, may hold in a
# process; 0 = half of VARCO_LIVE_STREAMS_PER_PROCESS rounded up (checkin/attendance/stream.py).
VARCO_LIVE_STREAMS_PER_ORGANISER = env_int("VARCO_LIVE_STREAMS_PER_ORGANISER", 0)
VARCO_LIVE_STREAMS_PER_USER = env_int("VARCO_LIVE_STREAMS_PER_USER", 0)
# Across every process and host (Redis only; checkin/attendance/leases.py): open streams in
# all, and per organiser and per user (0: half of the total, rounded up). 0 total: no bound
# beyond each process's.
VARCO_LIVE_STREAMS_TOTAL = env_int("VARCO_LIVE_STREAMS_TOTAL", 0)
VARCO_LIVE_STREAMS_TOTAL_PER_ORGANISER = env_int("VARCO_LIVE_STREAMS_TOTAL_PER_ORGANISER", 0)
VARCO_LIVE_STREAMS_TOTAL_PER_USER = env_int("VARCO_LIVE_STREAMS_TOTAL_PER_USER", 0)
VARCO_LIVE_STREAM_SECONDS = env_int("VARCO_LIVE_STREAM_SECONDS", 300)
VARCO_LIVE_HEARTBEAT_SECONDS = env_int("VARCO_LIVE_HEARTBEAT_SECONDS", 15)

# Bulk e-mail: how many tickets one worker task sends over one SMTP connection.
VARCO_DELIVERY_BATCH_SIZE = env_int("VARCO_DELIVERY_BATCH_SIZE", 50)
# A registration's e-mail task is published by a thread of the web process this many ms after
# the first of a batch, with the others committed by then (tickets/delivery/publisher.py);
# 0: published by the request itself.
VARCO_DELIVERY_PUBLISH_LINGER_MS = env_int("VARCO_DELIVERY_PUBLISH_LINGER_MS", 50)
# The most messages sent over one SMTP connection before the worker opens a new one (relays
# limit messages per session); 0: no limit of our own. A relay that ends the session with
# "421" or hangs up between messages is reconnected to anyway (tickets/delivery/batch.py).
VARCO_SMTP_MESSAGES_PER_CONNECTION = env_int("VARCO_SMTP_MESSAGES_PER_CONNECTION", 0)
# A delivery still "queued" or "sending" after this many seconds is re-queued by the sweep.
VARCO_DELIVERY_STALE_SECONDS = env_int("VARCO_DELIVERY_STALE_SECONDS", 90)
VARCO_DELIVERY_MAX_ATTEMPTS = env_int("VARCO_DELIVERY_MAX_ATTEMPTS", 8)
# How often the sweep looks for lost deliveries (beat, embedded in `python -m worker`).
VARCO_DELIVERY_SWEEP_SECONDS = env_int("VARCO_DELIVERY_SWEEP_SECONDS", 30)
# First retry delay after a temporary SMTP error; doubles per attempt, capped at 15 minutes.
VARCO_DELIVERY_RETRY_BASE_SECONDS = env_int("VARCO_DELIVERY_RETRY_BASE_SECONDS", 30)
# E-mail every ticket when it is issued or reissued (off: only `issue_tickets` sends).
VARCO_SEND_ON_ISSUE = env_bool("VARCO_SEND_ON_ISSUE", True)
# Domain of the Message-IDs of ticket e-mails (default: the domain of DEFAULT_FROM_EMAIL).
VARCO_MESSAGE_ID_DOMAIN = os.environ.get("VARCO_MESSAGE_ID_DOMAIN", "")
# Print on arrival (badges/jobs/): a claimed badge not sent to the printer within this many
# seconds goes back to the queue, and one sent but never reported printed becomes "in doubt"
# (never re-printed by itself); how often the sweep looks; how many claims a badge gets before
# it is given up; the first retry delay after a printer's error (doubling, capped at 5 minutes).
VARCO_PRINT_STALE_SECONDS = env_int("VARCO_PRINT_STALE_SECONDS", 90)
VARCO_PRINT_SWEEP_SECONDS = env_int("VARCO_PRINT_SWEEP_SECONDS", 15)
VARCO_PRINT_MAX_ATTEMPTS = env_int("VARCO_PRINT_MAX_ATTEMPTS", 5)
VARCO_PRINT_RETRY_BASE_SECONDS = env_int("VARCO_PRINT_RETRY_BASE_SECONDS", 5)
# Queue an admitted entry's badge in the scan's request instead of handing it to a thread (the
# scan then waits for one more commit; badges/jobs/handover.py).
VARCO_PRINT_QUEUE_INLINE = env_bool("VARCO_PRINT_QUEUE_INLINE", False)
# Long polls (claim with "wait") and print station streams a web process serves at once: each
# holds one of its threads (beyond, a claim answers at once and a stream is refused with 503).
VARCO_PRINT_WAITERS_PER_PROCESS = env_int("VARCO_PRINT_WAITERS_PER_PROCESS", 8)
# How often a waiting claim or stream looks at the database when no wake-up arrives (wake-ups
# come through Redis, or within the process without it); 0: 1 s with Redis, 0.25 s without.
VARCO_PRINT_POLL_SECONDS = float(os.environ.get("VARCO_PRINT_POLL_SECONDS", "0"))
# Periodic jobs (beat: embedded in ``python -m worker`` unless VARCO_SEPARATE_BEAT is set).
CELERY_BEAT_SCHEDULE = {
    "sweep-print-jobs": {
        "task": "badges.sweep_print_jobs",
        "schedule": VARCO_PRINT_SWEEP_SECONDS,
        "options": {"expires": max(VARCO_PRINT_SWEEP_SECONDS, 1.0)},
    },
    "sweep-deliveries": {
        "task": "tickets.sweep_deliveries",
        "schedule": VARCO_DELIVERY_SWEEP_SECONDS,
        # A sweep that could not run in its slot is useless later: the next one comes.
        "options": {"expires": max(VARCO_DELIVERY_SWEEP_SECONDS, 1.0)},
    },
}

# Check-in: how long a process trusts its cached copy of a device (revocation, list edits take
# this long to reach other processes), and how often rows of invalid-code scans are written in
# a batch (0 = at once).
VARCO_DEVICE_CACHE_SECONDS = env_int("VARCO_DEVICE_CACHE_SECONDS", 5)
VARCO_INVALID_SCAN_FLUSH_SECONDS = float(os.environ.get("VARCO_INVALID_SCAN_FLUSH_SECONDS", "1"))
# Invalid codes (failed signature) a scanner device may send per second, sustained and at once,
# before the scan endpoint answers 429 (checkin/scanning/flood.py; 0 = no limit). Valid codes
# are never limited.
VARCO_SCAN_INVALID_RATE = env_int("VARCO_SCAN_INVALID_RATE", 5)
VARCO_SCAN_INVALID_BURST = env_int("VARCO_SCAN_INVALID_BURST", 20)
# Offline uploads: same rate, a burst of one full upload (checkin/scanning/flood.py).
VARCO_SYNC_INVALID_BURST = env_int("VARCO_SYNC_INVALID_BURST", 500)
# A door device's scan time is trusted up to this far ahead of the server's clock, and this
# far behind it (or within the event's dates widened by as much); outside, the scan is recorded
# at the server's receipt time and flagged (checkin/scanning/clock.py).
VARCO_SCAN_CLOCK_AHEAD_SECONDS = env_int("VARCO_SCAN_CLOCK_AHEAD_SECONDS", 60)
VARCO_SCAN_CLOCK_BEHIND_HOURS = env_int("VARCO_SCAN_CLOCK_BEHIND_HOURS", 24)
if not (0 <= VARCO_SCAN_CLOCK_AHEAD_SECONDS <= 86_400
        and 0 <= VARCO_SCAN_CLOCK_BEHIND_HOURS <= 8_784):
    raise ImproperlyConfigured(
        "VARCO_SCAN_CLOCK_AHEAD_SECONDS must be 0-86400 and VARCO_SCAN_CLOCK_BEHIND_HOURS 0-8784"
    )
# GET /metrics (backend/metrics.py): besides superusers, a scraper sending
# "Authorization: Bearer <this>" may read it (empty: superusers only).
VARCO_METRICS_TOKEN = os.environ.get("VARCO_METRICS_TOKEN", "")
# Shared state between web processes and hosts (core/shared_redis.py, docs/shared-state.md):
# each Redis command waits at most this long; after a failure, the processes use their own
# state for RETRY seconds before trying Redis again (fail open, never a 500 or a stall).
VARCO_SHARED_STATE_TIMEOUT_MS = env_int("VARCO_SHARED_STATE_TIMEOUT_MS", 200)
VARCO_SHARED_STATE_RETRY_SECONDS = env_int("VARCO_SHARED_STATE_RETRY_SECONDS", 5)
# Answer POST /api/v1/checkin/scan/ in front of Django's middleware (checkin/fastpath.py).
VARCO_SCAN_FAST_PATH = env_bool("VARCO_SCAN_FAST_PATH", True)
# The same for the public registration's JSON POST (tickets/fastpath.py).
VARCO_REGISTRATION_FAST_PATH = env_bool("VARCO_REGISTRATION_FAST_PATH", True)
# Prepare the hot statements (the scan, a registration's, a badge's admission) once per
# database connection (backend/postgres/base.py). Off by default behind a pooler in
# transaction mode (DB_TRANSACTION_POOLING): PgBouncer before 1.21 (Debian 12 ships 1.18)
# cannot keep prepared statements there; a 1.21+ with max_prepared_statements can (set true).
# VARCO_SCAN_PREPARED, its name until it covered more than the scan, is still read.
VARCO_DB_PREPARED = env_bool(
    "VARCO_DB_PREPARED", env_bool("VARCO_SCAN_PREPARED", not DB_TRANSACTION_POOLING)
)
