"""Django settings for Global Store.

Every value comes from the environment (see README.md and .env.example) with an embedded
default that runs the whole store on one machine with nothing else installed: SQLite in WAL
mode, a filesystem Celery broker, local-memory cache, console email and the local sandbox.
Production sets DATABASE_URL, REDIS_URL and the real service URLs; nothing else differs.
"""

from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import schedule
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state on embedded defaults (database, broker folder)

env = environ.Env()


def env_decimal(name: str, default: str) -> Decimal:
    """A Decimal setting (money and rates are never floats)."""
    return Decimal(env(name, default=default))


# A local .env (not committed) may hold developer overrides; the real environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="dev-only-insecure-key-change-me-in-every-deployment-0123456789",
)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "treebeard",
    "storefront",
    "catalog",
    "orders",
    "membership",
    "fulfillment",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "storefront.middleware.KoreanFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "storefront.urls"
WSGI_APPLICATION = "storefront.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "storefront.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# An empty variable (as copied from .env.example) means "use the embedded default".
DATABASE_URL = env("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the Celery worker and beat read while one of them writes;
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "globalstore",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
CELERY_BROKER_FOLDER = Path(env("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "celery-broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_TIMEZONE = "Asia/Seoul"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

FX_REFRESH_SECONDS = env.int("FX_REFRESH_SECONDS", default=3600)
CELERY_BEAT_SCHEDULE = {
    "fx-refresh": {
        "task": "catalog.tasks.fx_rates_refresh",
        "schedule": schedule(run_every=FX_REFRESH_SECONDS),
    },
}

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language, time ---------------------------------------------------------------------
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders until collectstatic has run (tests, first start).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Email ------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Global Store <no-reply@globalstore.test>")

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # httpx logs every request URL at INFO, query string and credentials included (API keys
    # of external services): keep only its warnings. Clients log redacted URLs themselves.
    "loggers": {"httpx": {"level": "WARNING"}},
}

# --- Global Store -----------------------------------------------------------------------
# Selling margin on top of the USD source price converted at the selling FX rate.
PRICE_MARGIN = env_decimal("PRICE_MARGIN", "0.10")
# Local stand-ins for external services (sandbox/); production points these elsewhere.
SANDBOX_URL = env("SANDBOX_URL", default="http://127.0.0.1:8100")
FX_RATE_SOURCE_URL = env("FX_RATE_SOURCE_URL", default=f"{SANDBOX_URL}/fx/rates")
FX_RATE_TIMEOUT_SECONDS = env.float("FX_RATE_TIMEOUT_SECONDS", default=5.0)
# Products per page on category and search pages.
CATALOG_PAGE_SIZE = env.int("CATALOG_PAGE_SIZE", default=24)
# Where the real Amazon samples live; the demo loader imports them when present.
AMAZON_SAMPLE_DIR = Path(
    env("AMAZON_SAMPLE_DIR", default=str(BASE_DIR.parent / "shared" / "data" / "amazon"))
)
# Customs duty-free limits on the goods value in USD (DOMAIN.md, Customs).
CUSTOMS_DUTY_FREE_LIMIT_USD = env_decimal("CUSTOMS_DUTY_FREE_LIMIT_USD", "150")
CUSTOMS_LIST_CLEARANCE_LIMIT_USD = env_decimal("CUSTOMS_LIST_CLEARANCE_LIMIT_USD", "200")
# Cross-border freight by weight: base fee up to base weight, then a fee per started step.
CROSS_BORDER_SHIPPING_BASE_KRW = env.int("CROSS_BORDER_SHIPPING_BASE_KRW", default=6000)
CROSS_BORDER_SHIPPING_BASE_KG = env_decimal("CROSS_BORDER_SHIPPING_BASE_KG", "1")
CROSS_BORDER_SHIPPING_STEP_KRW = env.int("CROSS_BORDER_SHIPPING_STEP_KRW", default=2000)
CROSS_BORDER_SHIPPING_STEP_KG = env_decimal("CROSS_BORDER_SHIPPING_STEP_KG", "0.5")
# Seed USD→KRW rate used until the first successful refresh from the rate source.
FX_SEED_USD_KRW = env_decimal("FX_SEED_USD_KRW", "1390.00")
