"""Django settings for Global Store.

Every value comes from the environment (see README.md and .env.example) with an embedded
default that runs the whole store on one machine with nothing else installed: SQLite in WAL
mode, a filesystem Celery broker, local-memory cache, console email and the local sandbox.
Production sets DATABASE_URL, REDIS_URL and the real service URLs; nothing else differs.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab, schedule
from csp.constants import NONCE as CSP_NONCE
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state on embedded defaults (database, broker folder)

env = environ.Env()


def env_decimal(name: str, default: str) -> Decimal:
    """A Decimal setting (money and rates are never floats)."""
    return Decimal(env(name, default=default))


def env_bool_unless_empty(name: str, default: bool) -> bool:
    """A boolean setting whose empty value (as copied from .env.example) means the default."""
    return default if env(name, default="") == "" else env.bool(name)


def env_int_unless_empty(name: str, default: int) -> int:
    """An integer setting whose empty value means the default."""
    return default if env(name, default="") == "" else env.int(name)


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
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' JavaScript and CSS, served locally (no CDN)
    "treebeard",
    "axes",  # admin login lockout (security block below)
    "django_otp",  # optional TOTP for staff at the admin login
    "django_otp.plugins.otp_totp",
    "storefront",
    "catalog",
    "orders",
    "membership",
    "fulfillment",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First after the HTTPS redirect, so every log line of the request carries its id.
    "storefront.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "storefront.middleware.KoreanFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "storefront.middleware.StaffOtpRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "storefront.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: turns a locked-out admin login into its lockout page.
    "axes.middleware.AxesMiddleware",
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
                "orders.context_processors.cart",
                "csp.context_processors.nonce",  # {{ CSP_NONCE }} for the rare inline script
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
            # Django's RedisCache, reusing one client per pool (storefront/cache_redis.py).
            "BACKEND": "storefront.cache_redis.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "globalstore",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
CELERY_BROKER_FOLDER = Path(env("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "celery-broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # filesystem:// is served by storefront.broker_filesystem (atomic writes), registered in
    # storefront/celery.py.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task taken by a worker that dies before acknowledging it (acks_late) goes back to
    # the queue after this long; it must exceed the longest task (CELERY_TASK_TIME_LIMIT).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600)
    }
# A worker killed mid-task leaves its task unacknowledged: it is delivered again.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_TIMEZONE = "Asia/Seoul"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

FX_REFRESH_SECONDS = env.int("FX_REFRESH_SECONDS", default=3600)
# Anonymous home, category and product pages are cached at most this long (catalog/cache.py;
# price, stock and FX changes show at once anyway). 0 turns the page and card caches off.
CATALOG_PAGE_CACHE_SECONDS = env.int("CATALOG_PAGE_CACHE_SECONDS", default=300)
# A web process serves a cached page it checked (price, stock, FX, version) less than this
# many seconds ago from its own memory, without asking Redis or PostgreSQL again, and then
# re-checks all the pages it holds with one query: changes show within this window. 0
# keeps nothing in memory and checks on every request.
CATALOG_PAGE_RECHECK_SECONDS = env.float("CATALOG_PAGE_RECHECK_SECONDS", default=1.0)
# How much page html each web process keeps in memory for that (least recently served
# pages go first): product pages are ~8 KB, home and category pages 24-38 KB.
CATALOG_PAGE_MEMORY_MB = env.float("CATALOG_PAGE_MEMORY_MB", default=32.0)
# Domain-event outbox (docs/events.md): an event not dispatched this many seconds after it
# was published is enqueued again by the sweep; failed runs back off, doubling up to the max.
OUTBOX_SWEEP_AFTER_SECONDS = env.int("OUTBOX_SWEEP_AFTER_SECONDS", default=60)
OUTBOX_SWEEP_EVERY_SECONDS = env.int("OUTBOX_SWEEP_EVERY_SECONDS", default=60)
OUTBOX_SWEEP_BATCH_SIZE = env.int("OUTBOX_SWEEP_BATCH_SIZE", default=500)
OUTBOX_BACKOFF_MAX_SECONDS = env.int("OUTBOX_BACKOFF_MAX_SECONDS", default=3600)
# Ask Stripe about PaymentIntents still unpaid this long after their last change (a webhook
# may have been lost); the check runs every PAYMENT_RECONCILE_EVERY_SECONDS.
PAYMENT_RECONCILE_AFTER_SECONDS = env.int("PAYMENT_RECONCILE_AFTER_SECONDS", default=120)
PAYMENT_RECONCILE_EVERY_SECONDS = env.int("PAYMENT_RECONCILE_EVERY_SECONDS", default=120)
TRACKING_POLL_SECONDS = env.int("TRACKING_POLL_SECONDS", default=60)
# Restock: how often the scan raises replenishment purchase orders for low stock.
RESTOCK_SCAN_SECONDS = env.int("RESTOCK_SCAN_SECONDS", default=900)
# Amazon sourcing: how often beat submits due purchase orders and polls submitted ones.
SOURCING_SUBMIT_EVERY_SECONDS = env.int("SOURCING_SUBMIT_EVERY_SECONDS", default=60)
SOURCING_REFRESH_EVERY_SECONDS = env.int("SOURCING_REFRESH_EVERY_SECONDS", default=60)
# Membership points: a hold not tied to a placed order after POINTS_HOLD_ORPHAN_MINUTES is
# given back; the carrier keeps a hold POINTS_HOLD_GRACE_MINUTES past its order's payment
# window (so it never expires first); the sweep runs every POINTS_SWEEP_SECONDS and the
# daily reconciliation with the carrier at POINTS_RECONCILE_HOUR (Seoul) for the day before.
POINTS_HOLD_ORPHAN_MINUTES = env.int("POINTS_HOLD_ORPHAN_MINUTES", default=15)
POINTS_HOLD_GRACE_MINUTES = env.int("POINTS_HOLD_GRACE_MINUTES", default=120)
POINTS_SWEEP_SECONDS = env.int("POINTS_SWEEP_SECONDS", default=300)
POINTS_RECONCILE_HOUR = env.int("POINTS_RECONCILE_HOUR", default=4)
CELERY_BEAT_SCHEDULE = {
    "fx-refresh": {
        "task": "catalog.tasks.fx_rates_refresh",
        "schedule": schedule(run_every=FX_REFRESH_SECONDS),
    },
    "outbox-sweep": {
        "task": "storefront.tasks.outbox_sweep",
        "schedule": schedule(run_every=OUTBOX_SWEEP_EVERY_SECONDS),
    },
    "partner-webhook-sweep": {
        "task": "storefront.tasks.partner_webhook_sweep",
        "schedule": schedule(run_every=60),
    },
    "orders-expire-unpaid": {
        "task": "orders.tasks.orders_expire_unpaid",
        "schedule": schedule(run_every=60),
    },
    "payments-reconcile-pending": {
        "task": "orders.tasks.payments_reconcile_pending",
        "schedule": schedule(run_every=PAYMENT_RECONCILE_EVERY_SECONDS),
    },
    "refunds-retry-pending": {
        "task": "orders.tasks.refunds_retry_pending",
        "schedule": schedule(run_every=300),
    },
    "stock-reservations-expire": {
        "task": "fulfillment.tasks.stock_reservations_expire",
        "schedule": schedule(run_every=300),
    },
    "tracking-poll": {
        "task": "fulfillment.tasks.tracking_poll",
        "schedule": schedule(run_every=TRACKING_POLL_SECONDS),
    },
    "purchase-orders-submit": {
        "task": "fulfillment.tasks.purchase_orders_submit",
        "schedule": schedule(run_every=SOURCING_SUBMIT_EVERY_SECONDS),
    },
    "purchase-orders-refresh": {
        "task": "fulfillment.tasks.purchase_orders_refresh",
        "schedule": schedule(run_every=SOURCING_REFRESH_EVERY_SECONDS),
    },
    "restock-scan": {
        "task": "fulfillment.tasks.restock_scan",
        "schedule": schedule(run_every=RESTOCK_SCAN_SECONDS),
    },
    "points-holds-sweep": {
        "task": "membership.tasks.points_holds_sweep",
        "schedule": schedule(run_every=POINTS_SWEEP_SECONDS),
    },
    "points-reconcile-daily": {
        "task": "membership.tasks.points_reconcile_yesterday",
        "schedule": crontab(hour=POINTS_RECONCILE_HOUR, minute=10),
    },
}

# --- Partner API (/api/v1/, docs/api.md) ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["storefront.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["storefront.api.permissions.PartnerScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["storefront.api.throttles.PartnerRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "storefront.api.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "storefront.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Global Store partner API",
    "DESCRIPTION": "Catalog, landed-cost quotes and orders for Global Store partners. "
    "Guide: docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Page sizes of list endpoints (?limit=), and each partner's request budget per minute
# (Partner.rate_limit_per_minute; counted in the cache, Redis in production).
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_PAGE_SIZE_MAX = env.int("API_PAGE_SIZE_MAX", default=200)
# How long an API key's row (with its partner) stays in the cache, so that a partner
# request does not query the key; any change of the key or partner invalidates it on
# commit (storefront/api/keycache.py). 0 reads the database on every request.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)
# Partner webhooks: timeout per POST, and how long a failing delivery is retried (with
# exponential backoff from PARTNER_WEBHOOK_BACKOFF_SECONDS up to an hour between tries).
PARTNER_WEBHOOK_TIMEOUT_SECONDS = env.float("PARTNER_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
PARTNER_WEBHOOK_BACKOFF_SECONDS = env.int("PARTNER_WEBHOOK_BACKOFF_SECONDS", default=30)
PARTNER_WEBHOOK_GIVE_UP_HOURS = env.int("PARTNER_WEBHOOK_GIVE_UP_HOURS", default=26)

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Shoppers log in with their email (storefront/accounts); the address book is orders'.
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "home"
# Failed logins allowed per email and per client IP within the window (seconds, counted
# from the first failure) before logins for it are refused until the window ends; 0 = off.
LOGIN_RATE_LIMIT_ATTEMPTS = env.int("LOGIN_RATE_LIMIT_ATTEMPTS", default=5)
LOGIN_RATE_LIMIT_IP_ATTEMPTS = env.int("LOGIN_RATE_LIMIT_IP_ATTEMPTS", default=20)
LOGIN_RATE_LIMIT_WINDOW_SECONDS = env.int("LOGIN_RATE_LIMIT_WINDOW_SECONDS", default=900)

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
# One JSON object per line (storefront/logging.py: time, level, logger, message,
# request_id, exc) for log shippers; LOG_FORMAT=plain gives the same fields as text.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "storefront.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    # Every handler masks PCCCs (DOMAIN.md: never logged) and tags the request id.
    "filters": {
        "redact_pccc": {"()": "orders.pccc.PcccRedactingFilter"},
        "request_id": {"()": "storefront.logging.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["request_id", "redact_pccc"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # httpx logs every request URL at INFO, query string and credentials included (API keys
    # of external services): keep only its warnings. Clients log redacted URLs themselves.
    # The stripe library logs whole API responses at DEBUG, PaymentIntent client secrets
    # included: never below INFO (request lines and status codes).
    "loggers": {"httpx": {"level": "WARNING"}, "stripe": {"level": "INFO"}},
}
# Celery workers and beat keep this configuration (JSON, PCCC masking) instead of replacing
# the root logger's handlers with their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Global Store -----------------------------------------------------------------------
# Public base URL of the shop, for links in emails (no trailing slash needed).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Selling margin on top of the USD source price converted at the selling FX rate.
PRICE_MARGIN = env_decimal("PRICE_MARGIN", "0.10")
# Local stand-ins for external services (sandbox/); production points these elsewhere.
SANDBOX_URL = env("SANDBOX_URL", default="http://127.0.0.1:8100")
FX_RATE_SOURCE_URL = env("FX_RATE_SOURCE_URL", default=f"{SANDBOX_URL}/fx/rates")
FX_RATE_TIMEOUT_SECONDS = env.float("FX_RATE_TIMEOUT_SECONDS", default=5.0)
# Stripe (orders/stripe_client.py). Defaults: localstripe (`python -m sandbox.stripe_local`,
# started by `make run`); production sets real keys, https://api.stripe.com,
# https://js.stripe.com/v3/ and the signing secret of its webhook endpoint.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_localstripe")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_localstripe")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:8420")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="") or f"{STRIPE_API_BASE}/js.stripe.com/v3/"
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_localstripe_dev")
# Seconds per attempt; retries by the stripe library (connection errors, timeouts, 409, 5xx)
# after the first attempt, each with the same idempotency key.
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=8.0)
STRIPE_MAX_RETRIES = env.int("STRIPE_MAX_RETRIES", default=2)
# Webhooks signed longer ago than this are refused (replay protection).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# Customs PCCC check (UNI-PASS style; the sandbox locally): base URL, per-attempt timeout,
# retries after the first attempt.
CUSTOMS_CHECK_URL = env("CUSTOMS_CHECK_URL", default=f"{SANDBOX_URL}/customs")
CUSTOMS_CHECK_TIMEOUT_SECONDS = env.float("CUSTOMS_CHECK_TIMEOUT_SECONDS", default=3.0)
CUSTOMS_CHECK_RETRIES = env.int("CUSTOMS_CHECK_RETRIES", default=2)
# Carrier membership points (membership/carrier_client.py; the sandbox locally): base URL,
# API key (Bearer), per-attempt timeout, retries after the first attempt (same idempotency key).
CARRIER_POINTS_URL = env("CARRIER_POINTS_URL", default=f"{SANDBOX_URL}/carrier")
CARRIER_POINTS_API_KEY = env("CARRIER_POINTS_API_KEY", default="sandbox")
CARRIER_POINTS_TIMEOUT_SECONDS = env.float("CARRIER_POINTS_TIMEOUT_SECONDS", default=3.0)
CARRIER_POINTS_RETRIES = env.int("CARRIER_POINTS_RETRIES", default=2)
# Parcel tracking (fulfillment/tracking_client.py; the sandbox locally): base URL, per-attempt
# timeout, retries after the first attempt, tracking numbers per request. Beat polls every
# TRACKING_POLL_SECONDS; a parcel is asked about again TRACKING_REPOLL_SECONDS after an
# answer, and after a failed answer doubling from that up to TRACKING_BACKOFF_MAX_SECONDS.
TRACKING_URL = env("TRACKING_URL", default=f"{SANDBOX_URL}/tracking")
TRACKING_TIMEOUT_SECONDS = env.float("TRACKING_TIMEOUT_SECONDS", default=5.0)
TRACKING_RETRIES = env.int("TRACKING_RETRIES", default=2)
TRACKING_BATCH_SIZE = env.int("TRACKING_BATCH_SIZE", default=50)
TRACKING_REPOLL_SECONDS = env.int("TRACKING_REPOLL_SECONDS", default=50)
TRACKING_BACKOFF_MAX_SECONDS = env.int("TRACKING_BACKOFF_MAX_SECONDS", default=3600)
# Amazon sourcing (fulfillment/sourcing_client.py; the sandbox locally): base URL, timeout
# per attempt, retries after the first; a price rise over the expected USD price above the
# tolerance (0.05 = 5%) puts the line on hold; open cross-border purchase orders collect
# lines this many seconds before they are sent (beat schedule: SOURCING_*_EVERY_SECONDS).
SOURCING_URL = env("SOURCING_URL", default=f"{SANDBOX_URL}/sourcing")
SOURCING_TIMEOUT_SECONDS = env.float("SOURCING_TIMEOUT_SECONDS", default=5.0)
SOURCING_RETRIES = env.int("SOURCING_RETRIES", default=2)
SOURCING_PRICE_TOLERANCE = env_decimal("SOURCING_PRICE_TOLERANCE", "0.05")
SOURCING_BATCH_SECONDS = env.int("SOURCING_BATCH_SECONDS", default=300)
# Fernet keys for PCCCs at rest, comma-separated: the first encrypts, all decrypt (rotate by
# putting a new key first). Empty: a key derived from SECRET_KEY, for development only.
PCCC_ENCRYPTION_KEYS = env.list("PCCC_ENCRYPTION_KEYS", default=[])
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
# Domestic shipping fee, and the items total from which all shipping is free.
DOMESTIC_SHIPPING_KRW = env.int("DOMESTIC_SHIPPING_KRW", default=3000)
FREE_SHIPPING_THRESHOLD_KRW = env.int("FREE_SHIPPING_THRESHOLD_KRW", default=28000)
# An unpaid order is cancelled (stock released) this many minutes after placement.
ORDER_PAYMENT_WINDOW_MINUTES = env.int("ORDER_PAYMENT_WINDOW_MINUTES", default=30)
# Stock reservations still active this many seconds after the payment deadline are released
# by the safety-net sweep (the order-expiry task normally releases them first).
RESERVATION_EXPIRY_GRACE_SECONDS = env.int("RESERVATION_EXPIRY_GRACE_SECONDS", default=300)
# Seed USD→KRW rate used until the first successful refresh from the rate source.
FX_SEED_USD_KRW = env_decimal("FX_SEED_USD_KRW", "1390.00")
# Cart: most units of one product in a line, most distinct products in a cart (the customs
# personal-use limits are data on the customs classes).
CART_MAX_LINE_QUANTITY = env.int("CART_MAX_LINE_QUANTITY", default=20)
CART_MAX_LINES = env.int("CART_MAX_LINES", default=50)

# --- Security (docs/security.md) --------------------------------------------------------
# HTTPS: on by default when the shop's public URL is https (production); `make run`, the
# tests and the benchmark serve plain HTTP on the embedded defaults and keep it off. Each
# switch can be set on its own. `manage.py check --deploy --fail-level WARNING` passes with
# production values (tests/security/test_deploy_settings.py).
HTTPS_ONLY = SITE_URL.startswith("https://")
SECURE_SSL_REDIRECT = env_bool_unless_empty("DJANGO_SECURE_SSL_REDIRECT", HTTPS_ONLY)
# Load-balancer health checks speak plain HTTP to the web process.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = env_bool_unless_empty("DJANGO_SESSION_COOKIE_SECURE", HTTPS_ONLY)
CSRF_COOKIE_SECURE = env_bool_unless_empty("DJANGO_CSRF_COOKIE_SECURE", HTTPS_ONLY)
SECURE_HSTS_SECONDS = env_int_unless_empty(
    "DJANGO_SECURE_HSTS_SECONDS", 31536000 if HTTPS_ONLY else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool_unless_empty(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True
)
SECURE_HSTS_PRELOAD = env_bool_unless_empty("DJANGO_SECURE_HSTS_PRELOAD", False)
# Preloading is a one-way door (browsers' built-in lists), so it is opt-in; its deploy
# warning is silenced only while it is deliberately off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (only if the proxy always
# sets that header, overwriting the client's). Empty: not behind such a proxy.
_proxy_ssl_header = env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if _proxy_ssl_header else None
# How many load balancers / reverse proxies stand in front of the app, each appending to
# X-Forwarded-For: the client's address is that many entries from the right (the rest can
# be forged by the client). 0: REMOTE_ADDR (no proxy, or one that rewrites it).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True


# Content-Security-Policy (django-csp 4, storefront.middleware.ContentSecurityPolicyMiddleware):
# only the app itself, and no inline script or style without the request's nonce
# ({{ request.csp_nonce }}). The payment page alone also allows Stripe.js (its script, card
# frames and API calls): CSP_STRIPE_ORIGINS, or when empty the origin of STRIPE_JS_URL
# (localstripe in development) plus, for the real https://js.stripe.com, the origins Stripe
# documents for Stripe.js (https://api.stripe.com, https://hooks.stripe.com for 3D Secure).
CSP_STRIPE_ORIGINS = env.list("CSP_STRIPE_ORIGINS", default=[])
# Product pictures are hot-linked from the catalog feed's hosts.
CSP_IMG_ORIGINS = env.list("CSP_IMG_ORIGINS", default=["https:"])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF, CSP_NONCE],
        "style-src": [CSP_SELF, CSP_NONCE],
        "img-src": [CSP_SELF, "data:", *CSP_IMG_ORIGINS],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "frame-src": [CSP_NONE],
        "frame-ancestors": [CSP_NONE],
        "form-action": [CSP_SELF],
        "base-uri": [CSP_SELF],
        "object-src": [CSP_NONE],
    },
}

# Admin login lockout (django-axes): after AXES_FAILURE_LIMIT failed admin logins for one
# username from one IP, that pair is refused (even with the right password) for
# AXES_COOLOFF_MINUTES. Admin only: the shopper login (storefront/accounts) has its own
# limiter (LOGIN_RATE_LIMIT_*); axes records admin logins only (storefront/admin_login.py),
# so no attempt is counted twice.
AUTHENTICATION_BACKENDS = [
    "storefront.admin_login.AdminAxesBackend",  # django-axes' AxesStandaloneBackend
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ONLY_ADMIN_SITE = True
AXES_HANDLER = "storefront.admin_login.AdminOnlyAxesHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The attempt log stores the username tried, never the password.
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token"]
# The client's address for axes and the shopper login limiter (storefront/client_ip.py).
AXES_CLIENT_IP_CALLABLE = "storefront.client_ip.client_ip"
# Staff with a confirmed TOTP device (django-otp, enrolled in the admin) enter a token at
# the admin login; staff without one log in with their password as before.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Global Store")
