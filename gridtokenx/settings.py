"""GridTokenX settings.

With no environment set, everything runs embedded on one machine: SQLite (WAL, immediate transactions), the
in-memory channel layer and in-process scheduling. DATABASE_URL (PostgreSQL) and REDIS_URL (Channels layer,
Celery broker) switch to real services; with DEBUG off, the system check `gridtokenx.E001` refuses to start on
the embedded parts, so production never falls back to them silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED_DATABASE = not DATABASE_URL
EMBEDDED_REDIS = not REDIS_URL
# Without Redis there is no Celery beat: the web server's process runs the schedule itself (gridtokenx.scheduler).
EMBEDDED_SCHEDULER = EMBEDDED_REDIS and os.environ.get("GRIDTOKENX_SCHEDULER", "on") != "off"

DEBUG = env_bool("DJANGO_DEBUG", default=EMBEDDED_DATABASE and EMBEDDED_REDIS)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "embedded-development-key-not-for-production"

ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "servestatic",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "gridtokenx",
    "ledger",
    "registry",
    "oracle",
    "trading",
    "governance",
    "meters",
    "portal", "explorer",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gridtokenx.urls"
WSGI_APPLICATION = "gridtokenx.wsgi.application"
ASGI_APPLICATION = "gridtokenx.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# -- Database -----------------------------------------------------------------------------------------------
VAR_DIR = Path(os.environ.get("GRIDTOKENX_VAR_DIR", BASE_DIR / "var"))
if EMBEDDED_DATABASE:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("GRIDTOKENX_SQLITE_PATH", str(VAR_DIR / "gridtokenx.sqlite3")),
            "OPTIONS": {
                # Immediate transactions take the write lock up front, so two writers queue instead of failing
                # with "database is locked" when one upgrades a read to a write.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            },
            # A file (not shared-cache memory) so the ledger's writer thread and the tests see one database.
            "TEST": {"NAME": str(VAR_DIR / "test-gridtokenx.sqlite3")},
        }
    }
else:
    # No persistent connections: under ASGI each request may run in a thread of its own, and a kept connection
    # would outlive it (Django's deployment notes for ASGI). Put PgBouncer in front for connection reuse.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL (postgres://...)")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- Channels and Celery ------------------------------------------------------------------------------------
if EMBEDDED_REDIS:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# -- Ledger -------------------------------------------------------------------------------------------------
# Seeds are 32 bytes, hex. The embedded defaults are public, deterministic development keys: the system check
# refuses them when DEBUG is off.
LEDGER_VALIDATOR_SEED = os.environ.get("LEDGER_VALIDATOR_SEED", "")
LEDGER_AUTHORITY_SEED = os.environ.get("LEDGER_AUTHORITY_SEED", "")
LEDGER_GENESIS_TIME_MS = int(os.environ.get("LEDGER_GENESIS_TIME_MS", "1767225600000"))  # 2026-01-01T00:00:00Z
LEDGER_PROGRAMS = [
    "ledger.token_program.TokenProgram",
    "registry.program.RegistryProgram",
    "oracle.program.OracleProgram",
    "trading.program.TradingProgram",
]
# Oracle: reading interval, allowed clock skew, the generation/consumption ratio rule (oracle.rules), and the
# settlement schedule (Celery beat in production, the in-process scheduler on the embedded default).
ORACLE_INTERVAL_SECONDS = int(os.environ.get("ORACLE_INTERVAL_SECONDS", "900"))
ORACLE_FUTURE_SKEW_S = int(os.environ.get("ORACLE_FUTURE_SKEW_S", "60"))
ORACLE_MAX_GENERATION_RATIO = int(os.environ.get("ORACLE_MAX_GENERATION_RATIO", "100"))
ORACLE_SETTLE_EVERY_S = float(os.environ.get("ORACLE_SETTLE_EVERY_S", "30"))
ORACLE_SETTLE_BATCH = int(os.environ.get("ORACLE_SETTLE_BATCH", "20000"))
# Trading: how a placed order reaches the matcher (trading.matcher: "thread" on the embedded default, "celery" in
# production, "inline" to match inside the placing request) and how often it also runs on its own schedule.
TRADING_MATCHER = os.environ.get("TRADING_MATCHER", "thread" if EMBEDDED_REDIS else "celery")
if TRADING_MATCHER not in ("thread", "celery", "inline"):
    raise ImproperlyConfigured(f"TRADING_MATCHER must be thread, celery or inline, not {TRADING_MATCHER!r}")
if TRADING_MATCHER == "celery" and EMBEDDED_REDIS:
    raise ImproperlyConfigured("TRADING_MATCHER=celery needs REDIS_URL (the Celery broker)")
# How a server places the orders its API receives: `batched` by its order desk's thread, many at a time (the
# default), or `inline` in the request's own thread (tests). See trading/desk.py.
TRADING_PLACEMENT = os.environ.get("TRADING_PLACEMENT", "batched")
if TRADING_PLACEMENT not in ("batched", "inline"):
    raise ImproperlyConfigured(f"TRADING_PLACEMENT must be batched or inline, not {TRADING_PLACEMENT!r}")
TRADING_MATCH_EVERY_S = float(os.environ.get("TRADING_MATCH_EVERY_S", "5"))
# Zones traded by periodic uniform-price auction (trading.rounds) instead of the continuous market, as
# comma-separated zone codes, and the length of a round in seconds (rounds close on multiples of it).
TRADING_AUCTION_ZONES = [code.strip() for code in os.environ.get("TRADING_AUCTION_ZONES", "").split(",") if code.strip()]
TRADING_AUCTION_INTERVAL_S = float(os.environ.get("TRADING_AUCTION_INTERVAL_S", "900"))
if TRADING_AUCTION_INTERVAL_S < 1:
    raise ImproperlyConfigured("TRADING_AUCTION_INTERVAL_S must be at least 1 second")
CELERY_BEAT_SCHEDULE = {
    "oracle-settle": {"task": "oracle.tasks.settle_readings", "schedule": ORACLE_SETTLE_EVERY_S},
    "trading-match": {"task": "trading.tasks.match_scheduled", "schedule": TRADING_MATCH_EVERY_S},
}
LEDGER_MAX_BLOCK_TRANSACTIONS = int(os.environ.get("LEDGER_MAX_BLOCK_TRANSACTIONS", "2000"))
# The leader lock for SQLite is a file beside the database; PostgreSQL uses an advisory lock.
LEDGER_LOCK_FILE = os.environ.get("LEDGER_LOCK_FILE", str(VAR_DIR / "ledger-sequencer.lock"))

# -- Auth, i18n, static -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Bangkok"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gridtokenx.api_errors.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GridTokenX API",
    "DESCRIPTION": "Peer-to-peer energy exchange on a hash-chained, Ed25519-signed ledger.",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {
        "ParticipantRoleEnum": "registry.models.Participant.Role",
        "ParticipantStatusEnum": "registry.models.Participant.Status",
        "MeterStatusEnum": "registry.models.Meter.Status",
        "MeterTypeEnum": "registry.models.Meter.Type",
        "ReadingStatusEnum": "oracle.models.Reading.Status",
        "SettlementStatusEnum": "oracle.models.Settlement.Status",
    },
}

# -- Production hardening (on whenever DEBUG is off) ----------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
