"""Settings, all from environment variables, with defaults that run anywhere for development.

Unset REDIS_URL and DATABASE_URL give the embedded mode: a SQLite file and an in-process broker.
An empty variable counts as unset for every type (see core/env.py).
"""

import binascii
import re
from base64 import b64decode
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core import logs
from core.broker import broker_settings
from core.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "django-insecure-taskgraph-development-key-do-not-use-in-production"

env = Env()

DEBUG = env.bool("DEBUG", True)
SECRET_KEY = env.str("SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG=0."
    )

dev_hosts = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=dev_hosts if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG=0.")

INSTALLED_APPS = [
    # First: it builds the Dramatiq broker before any actor module is imported.
    "django_dramatiq",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "jobs",  # before staticfiles: its runserver command extends staticfiles' one
    "django.contrib.staticfiles",
    "corsheaders",
    "anymail",
    "strawberry_django",
    "users",
    "tasks",
    # Templates and static files of the GraphQL layer (GraphiQL).
    "schema",
    "health_check",
    "webhooks",
]

MIDDLEWARE = [
    # Issue 13: request id and one log line per request; HTTP metrics.
    "core.logs.RequestLogMiddleware",
    "core.metrics.MetricsMiddleware",
    "core.timeouts.DatabaseTimeLimit",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
ASGI_APPLICATION = "core.asgi.application"

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
            ],
        },
    },
]

# Database: a SQLite file unless DATABASE_URL says otherwise.
DATABASE_URL = env.str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env.int("DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded worker writes from other threads: WAL lets readers run beside one writer,
    # and IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True


# Browsers on other origins (single-page apps): list them to allow credentialed CORS requests
# and CSRF-checked POSTs from them.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=CORS_ALLOWED_ORIGINS)
SESSION_COOKIE_SAMESITE = env.str("SESSION_COOKIE_SAMESITE", "Lax")
CSRF_COOKIE_SAMESITE = env.str("CSRF_COOKIE_SAMESITE", "Lax")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
if env.bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not SECURE_HSTS_PRELOAD:
    # Preloading is a commitment submitted to browser vendors (hard to undo), so it stays an
    # explicit opt-in rather than a default that `check --deploy` would nag about.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: trust only
# REMOTE_ADDR (a client can write any X-Forwarded-For it likes).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0)

# Background work: Redis when REDIS_URL is set, otherwise an in-process broker.
REDIS_URL = env.str("REDIS_URL", "")
DRAMATIQ_BROKER = broker_settings(REDIS_URL)
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# Cache: login throttling counters and locks must be shared by every web process, so Redis
# when configured; a per-process memory cache otherwise (development).
CACHE_URL = env.str("CACHE_URL", REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "taskgraph",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Throttling: failed logins per account and per client address within the window lock that
# account or address for the window; registrations per address likewise.
THROTTLE_WINDOW = env.int("THROTTLE_WINDOW", 15 * 60)
THROTTLE_LOGIN_ACCOUNT_FAILURES = env.int("THROTTLE_LOGIN_ACCOUNT_FAILURES", 5)
THROTTLE_LOGIN_ADDRESS_FAILURES = env.int("THROTTLE_LOGIN_ADDRESS_FAILURES", 20)
THROTTLE_REGISTRATIONS = env.int("THROTTLE_REGISTRATIONS", 10)
THROTTLE_REGISTRATION_WINDOW = env.int("THROTTLE_REGISTRATION_WINDOW", 60 * 60)

# Email: "console" (default), "smtp", or any Anymail ESP by its module name ("mailgun",
# "postmark", "sendgrid", "amazon_ses", ...). Credentials come from ANYMAIL_* variables,
# e.g. ANYMAIL_MAILGUN_API_KEY -> ANYMAIL["MAILGUN_API_KEY"].
EMAIL_PROVIDER = env.str("EMAIL_PROVIDER", "console").strip().lower()
if EMAIL_PROVIDER == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
elif EMAIL_PROVIDER == "smtp":
    EMAIL_BACKEND = "core.email.SMTPBackend"  # Django's, cheaper per email (core/email.py)
    EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10)
elif EMAIL_PROVIDER == "test":
    EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
elif EMAIL_PROVIDER == "resend":
    EMAIL_BACKEND = "core.email.ResendBackend"  # Anymail's, with idempotency keys
else:
    EMAIL_BACKEND = f"anymail.backends.{EMAIL_PROVIDER}.EmailBackend"
# Any other backend by dotted path (benchmarks use a recording one); overrides EMAIL_PROVIDER.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", EMAIL_BACKEND)
# A relay that sends a message whose key it has seen once only reads the key from this header
# (Resend's SMTP: Resend-Idempotency-Key); core.email.SMTPBackend adds it to reminder emails.
EMAIL_IDEMPOTENCY_HEADER = env.str("EMAIL_IDEMPOTENCY_HEADER", "")
if EMAIL_IDEMPOTENCY_HEADER and not re.fullmatch(r"[!-9;-~]+", EMAIL_IDEMPOTENCY_HEADER):
    raise ImproperlyConfigured(
        f"EMAIL_IDEMPOTENCY_HEADER={EMAIL_IDEMPOTENCY_HEADER!r} is not a header name: printable "
        "ASCII without spaces or ':', e.g. Resend-Idempotency-Key."
    )
ANYMAIL = env.prefixed("ANYMAIL_")  # ANYMAIL_WEBHOOK_SECRET -> ANYMAIL["WEBHOOK_SECRET"]
# A send's time bound, below the stale-claim threshold (see REMINDER_CLAIM_HOLD_SECONDS).
ANYMAIL["REQUESTS_TIMEOUT"] = float(ANYMAIL.get("REQUESTS_TIMEOUT", 10))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Taskgraph <reminders@taskgraph.localhost>")
# Issue 14: the link in reminder emails (jobs/links.py). A template with {id}, the task's
# global ID, e.g. https://app.example.com/tasks/{id}; unset, GraphiQL on this API at API_URL
# with the task's query filled in (`runserver` uses the address it serves instead).
REMINDER_TASK_URL = env.str("REMINDER_TASK_URL", "")
# Base of the links in account emails (email verification, password reset): docs/accounts.md.
FRONTEND_URL = env.str("FRONTEND_URL", "http://127.0.0.1:8000").rstrip("/")
API_URL = env.str("API_URL", "http://127.0.0.1:8000").rstrip("/")
# Anymail tracking webhooks (/anymail/<esp>/tracking/) accept anyone without a shared secret.
ESP_PROVIDERS_WITHOUT_WEBHOOKS = {"console", "smtp", "test"}
webhook_unprotected = not ANYMAIL.get("WEBHOOK_SECRET")
if not DEBUG and EMAIL_PROVIDER not in ESP_PROVIDERS_WITHOUT_WEBHOOKS and webhook_unprotected:
    raise ImproperlyConfigured(
        f"ANYMAIL_WEBHOOK_SECRET must be set when EMAIL_PROVIDER={EMAIL_PROVIDER} and DEBUG=0: "
        "without it the tracking webhook accepts forged delivery events."
    )

# Reminders (see docs/reminders.md). Reminders due within the horizon get a wake-up message;
# the dispatcher (every minute) queues the rest and re-queues lost or stalled ones.
REMINDER_HORIZON_SECONDS = env.int("REMINDER_HORIZON_SECONDS", 300)
REMINDER_LOST_AFTER_SECONDS = env.int("REMINDER_LOST_AFTER_SECONDS", 15)
REMINDER_STALE_SENDING_SECONDS = env.int("REMINDER_STALE_SENDING_SECONDS", 30)
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", 5)
REMINDER_RETRY_BACKOFF_MS = env.int("REMINDER_RETRY_BACKOFF_MS", 30_000)
REMINDER_BATCH_SIZE = env.int("REMINDER_BATCH_SIZE", 200)
# A batch gives back what it has not sent after this long, so that a claim never lives longer
# than this plus one send (bounded by EMAIL_TIMEOUT / Anymail's REQUESTS_TIMEOUT, 10 s):
# keep REMINDER_STALE_SENDING_SECONDS (30) above that sum.
REMINDER_CLAIM_HOLD_SECONDS = env.int("REMINDER_CLAIM_HOLD_SECONDS", 10)
# Without REDIS_URL, `runserver` runs the worker and the dispatcher in its own process;
# REMINDERS_EMBEDDED=0 turns that off. (Worker processes poll Redis every
# `dramatiq_worker_timeout` ms, Dramatiq's own variable, read from their environment: the
# Dockerfile and `make worker` set 100, as Dramatiq's 1 s default makes reminders up to 1 s late.)
REMINDERS_EMBEDDED = env.bool("REMINDERS_EMBEDDED", True)

# Issue 14: reminders through real transports. Sender threads per worker process, shared by
# its batches; each keeps one connection to the provider (SMTP or HTTP) and, while busy, one
# to the database: size PostgreSQL's max_connections for them.
REMINDER_SEND_THREADS = env.int("REMINDER_SEND_THREADS", 16)
# Each worker process sweeps the database this often, sending what is still unsent this long
# after it was due (its wake-up was lost with the broker) and recovering dead workers' claims.
REMINDER_SWEEP_SECONDS = env.float("REMINDER_SWEEP_SECONDS", 5.0)
REMINDER_SWEEP_GRACE_SECONDS = env.float("REMINDER_SWEEP_GRACE_SECONDS", 2.0)

# GraphQL
# Shortcuts through library internals (schema/fastpath.py); they switch themselves off, with
# a warning, on library versions they were not tested with.
GRAPHQL_FAST_PATH = env.bool("GRAPHQL_FAST_PATH", True)
# Query limits: a document is refused before it runs when it exceeds any of these.
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", 10)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", 30)
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", 1000)
GRAPHQL_MAX_BATCH = env.int("GRAPHQL_MAX_BATCH", 10)
# Introspection and GraphiQL: on in development, off in production unless asked for.
GRAPHQL_INTROSPECTION = env.bool("GRAPHQL_INTROSPECTION", DEBUG)
GRAPHQL_GRAPHIQL = env.bool("GRAPHQL_GRAPHIQL", DEBUG)
# Unexpected exceptions reach clients as "Internal error" (the details go to the log).
GRAPHQL_MASK_ERRORS = env.bool("GRAPHQL_MASK_ERRORS", not DEBUG)
STRAWBERRY_DJANGO = {
    "FIELD_DESCRIPTION_FROM_HELP_TEXT": True,
    "TYPE_DESCRIPTION_FROM_MODEL_DOCSTRING": False,
}

# Issue 10, trust at the edges: accounts own their address, emails are capped (docs/accounts.md).
# A verification link lives this long (seconds); password reset links live PASSWORD_RESET_TIMEOUT.
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", 3 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", 24 * 3600)
# Account emails per THROTTLE_EMAIL_WINDOW: verification resends per account, password resets
# per address asked for (and five times that per client address).
THROTTLE_EMAIL_WINDOW = env.int("THROTTLE_EMAIL_WINDOW", 3600)
THROTTLE_VERIFICATION_EMAILS = env.int("THROTTLE_VERIFICATION_EMAILS", 3)
THROTTLE_PASSWORD_RESETS = env.int("THROTTLE_PASSWORD_RESETS", 3)
# Reminder emails per user; the overflow waits (waitingReason EMAIL_LIMIT) for the window.
# 0: no cap.
REMINDER_EMAILS_PER_HOUR = env.int("REMINDER_EMAILS_PER_HOUR", 20)
REMINDER_EMAILS_PER_DAY = env.int("REMINDER_EMAILS_PER_DAY", 100)
# A reminder still waiting for its owner's address to be verified this long after its time
# fails (visibly) instead of going out late.
REMINDER_UNVERIFIED_EXPIRY_SECONDS = env.int("REMINDER_UNVERIFIED_EXPIRY_SECONDS", 24 * 3600)
# The providers whose tracking webhook is served (README, "Delivery tracking
# webhooks"), with the Anymail setting of the key their signature needs (None: the provider
# does not sign; basic auth with ANYMAIL_WEBHOOK_SECRET is all there is). A signing provider's
# webhook exists only once its key is set.
TRACKING_WEBHOOK_SIGNING_KEYS = {
    "mailgun": "MAILGUN_WEBHOOK_SIGNING_KEY",
    "sendgrid": "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
    "mandrill": "MANDRILL_WEBHOOK_KEY",
    # Svix's scheme ("whsec_..."; svix-id, svix-timestamp, svix-signature headers), verified
    # by Anymail with the svix package; a timestamp more than 5 minutes off is refused.
    "resend": "RESEND_SIGNING_SECRET",
    "postmark": None,
    "amazon_ses": None,
    "brevo": None,
    "mailjet": None,
    "sparkpost": None,
}
signing_key = TRACKING_WEBHOOK_SIGNING_KEYS.get(EMAIL_PROVIDER)
if not DEBUG and signing_key and not ANYMAIL.get(signing_key):
    raise ImproperlyConfigured(
        f"ANYMAIL_{signing_key} must be set when EMAIL_PROVIDER={EMAIL_PROVIDER} and DEBUG=0: "
        "the provider signs its tracking events and the webhook requires the signature."
    )
# svix decodes Resend's secret at every request, as here: a malformed one would make every
# tracking event a 500.
if ANYMAIL.get("RESEND_SIGNING_SECRET"):
    try:
        svix_key = b64decode(ANYMAIL["RESEND_SIGNING_SECRET"].removeprefix("whsec_") + "==")
    except binascii.Error:
        svix_key = b""
    if not svix_key:
        raise ImproperlyConfigured(
            "ANYMAIL_RESEND_SIGNING_SECRET must be the webhook's signing secret shown by Resend: "
            "whsec_ followed by base64."
        )
# Tracking events older than this (by the provider's own timestamp), or seen before, are
# acknowledged and ignored. Providers retry failed deliveries for hours: keep it above that.
WEBHOOK_EVENT_MAX_AGE_SECONDS = env.int("WEBHOOK_EVENT_MAX_AGE_SECONDS", 6 * 3600)


# Static files (issue 11): WhiteNoise serves /static/ from the web process, also with DEBUG=0
# (the admin's styles, GraphiQL's vendored scripts). In production `collectstatic` (run by the
# Dockerfile) writes STATIC_ROOT with content-hashed names, which WhiteNoise sends with a
# one-year immutable Cache-Control; other names get WHITENOISE_MAX_AGE. In development files
# come straight from the apps, unhashed and uncached (`make run` passes --nostatic so that
# WhiteNoise serves them there too).
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Webhooks (issue 12): outbound event deliveries (docs/webhooks.md)
# Retry failed deliveries with exponential backoff (first wait, cap) for this long.
WEBHOOK_RETRY_FOR_SECONDS = env.int("WEBHOOK_RETRY_FOR_SECONDS", 24 * 3600)
WEBHOOK_RETRY_BACKOFF_MS = env.int("WEBHOOK_RETRY_BACKOFF_MS", 5_000)
WEBHOOK_RETRY_MAX_BACKOFF_SECONDS = env.int("WEBHOOK_RETRY_MAX_BACKOFF_SECONDS", 3 * 3600)
# An endpoint is disabled (and its owner emailed) once it failed this many attempts in a row
# over at least this long (no success in between).
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", 20)
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", 12 * 3600)
# The sweep re-queues PENDING deliveries overdue by this much (their message was lost), and
# gives back SENDING ones claimed this long ago (their worker died).
WEBHOOK_LOST_AFTER_SECONDS = env.int("WEBHOOK_LOST_AFTER_SECONDS", 30)
WEBHOOK_STALE_SENDING_SECONDS = env.int("WEBHOOK_STALE_SENDING_SECONDS", 120)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", 15.0)
WEBHOOK_MAX_PER_USER = env.int("WEBHOOK_MAX_PER_USER", 20)
# SSRF guard: addresses (or networks) outside the public internet that targets may use anyway,
# e.g. "127.0.0.1" for tests or "10.0.5.0/24" for an internal receiver. Empty: none.
WEBHOOK_ALLOWED_ADDRESSES = env.list("WEBHOOK_ALLOWED_ADDRESSES", default=[])
# Idempotency-Key on /graphql/: stored responses live this long; a repeat arriving while the
# first runs waits this long for its answer (then 409); a key left running this long by a
# process that died is taken over.
IDEMPOTENCY_KEY_TTL_SECONDS = env.int("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600)
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", 5.0)
IDEMPOTENCY_STALE_SECONDS = env.int("IDEMPOTENCY_STALE_SECONDS", 120)
# Inbound hooks (/hooks/<id>/): per-user maximum, body size cap, log kept per hook.
INBOUND_HOOK_MAX_PER_USER = env.int("INBOUND_HOOK_MAX_PER_USER", 20)
INBOUND_HOOK_MAX_BODY_BYTES = env.int("INBOUND_HOOK_MAX_BODY_BYTES", 65_536)
INBOUND_DELIVERIES_KEPT = env.int("INBOUND_DELIVERIES_KEPT", 100)

# Issue 13: running it in production (health, logs, metrics).
# Readiness (/health/ready/) wants a worker heartbeat younger than HEALTH_WORKER_MAX_AGE and a
# dispatcher run younger than HEALTH_DISPATCHER_MAX_AGE (it runs every minute).
HEALTH_HEARTBEAT_SECONDS = env.int("HEALTH_HEARTBEAT_SECONDS", 10)
HEALTH_WORKER_MAX_AGE = env.int("HEALTH_WORKER_MAX_AGE", 60)
HEALTH_DISPATCHER_MAX_AGE = env.int("HEALTH_DISPATCHER_MAX_AGE", 180)

# Logs: JSON lines in production, readable ones in development (core/logs.py).
LOG_LEVEL = env.str("LOG_LEVEL", "INFO")
LOG_FORMAT = env.str("LOG_FORMAT", "console" if DEBUG else "json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or console, got {LOG_FORMAT!r}.")
LOGGING = logs.logging_config(json=LOG_FORMAT == "json", level=LOG_LEVEL)
logs.configure_structlog()
# Metrics (core/metrics.py): /metrics answers `Authorization: Bearer <METRICS_TOKEN>` only;
# these collectors read the database at scrape time.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
METRICS_COLLECTORS = ["jobs.metrics.RemindersByState"]

# Issue 9: every request bounded (docs/security.md, "Query limits" and "Query cost").
# Fields after expanding every fragment (each spread counts its fragment's fields again).
GRAPHQL_MAX_SELECTIONS = env.int("GRAPHQL_MAX_SELECTIONS", 500)
# Characters of the document itself, refused before the lexer reads it.
GRAPHQL_MAX_DOCUMENT_LENGTH = env.int("GRAPHQL_MAX_DOCUMENT_LENGTH", 20_000)
# Static cost (schema/cost.py): most points one request may cost, and one caller (user, or
# address when anonymous) per minute.
GRAPHQL_MAX_COST = env.int("GRAPHQL_MAX_COST", 25_000)
GRAPHQL_COST_PER_MINUTE = env.int("GRAPHQL_COST_PER_MINUTE", 200_000)
# Most tasks a transitive read (ancestors, descendants, blockers(transitive), taskOrder)
# returns; beyond it the answer says it was cut.
GRAPHQL_MAX_TRANSITIVE = env.int("GRAPHQL_MAX_TRANSITIVE", 200)
# Per-owner maxima, refused with payload errors (code `limit_reached`).
USER_MAX_TASKS = env.int("USER_MAX_TASKS", 10_000)
TASK_MAX_PRE_TASKS = env.int("TASK_MAX_PRE_TASKS", 50)
TASK_MAX_REMINDERS = env.int("TASK_MAX_REMINDERS", 10)
# Database work of one web request (core/timeouts.py): PostgreSQL's statement_timeout, SQLite's
# progress handler. Keep it well below gunicorn's --timeout (30 s by default). 0: no limit.
WEB_DB_TIMEOUT_MS = env.int("WEB_DB_TIMEOUT_MS", 5_000)
