"""CNSC settings: one module, configured from the environment (see .env.example).

A value that cannot be used stops the start with ImproperlyConfigured naming the variable.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from .env without overriding the real environment."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


_load_dotenv(BASE_DIR / ".env")


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} must be set")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# "production" turns on every protection; "development" is the zero-set-up default.
ENVIRONMENT = env_str("CNSC_ENV", "development")
if ENVIRONMENT not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"CNSC_ENV must be development, production or test, not {ENVIRONMENT!r}"
    )
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when CNSC_ENV=production")

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-" + "x" * 40

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Demo accounts with printed passwords exist only outside production.
DEMO_ACCOUNTS = not PRODUCTION and env_bool("CNSC_DEMO_ACCOUNTS", default=True)

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "cnsc.core",
    "cnsc.geo",
    "cnsc.access",
    "cnsc.team",
    "cnsc.outreach",
    "cnsc.training",
    "cnsc.dashboard",
    "cnsc.bot",
    "django_tasks",
]

MIDDLEWARE = [
    "cnsc.core.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "cnsc.core.input_guard.NulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cnsc.access.middleware.SessionGuardMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cnsc.access.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "cnsc.core.middleware.BackOfficeCspMiddleware",
    "cnsc.core.middleware.NoStoreMiddleware",
    "cnsc.access.middleware.DeniedAccessMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its answer.
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # Serves the collected static files (docker/Dockerfile runs collectstatic); in development
    # runserver serves them from the apps.
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cnsc" / "templates"],
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

# --- Database -------------------------------------------------------------------------------
VAR_DIR = Path(env_str("CNSC_VAR_DIR", str(BASE_DIR / "var")))
_database_url = os.environ.get("DATABASE_URL", "").strip()
if _database_url:
    try:
        _db = dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except Exception as exc:  # the library raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from None
    if not _db.get("ENGINE"):
        raise ImproperlyConfigured("DATABASE_URL names an unknown database engine")
    if _db["ENGINE"] not in {
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL or SQLite")
    _db.setdefault("TEST", {})
    DATABASES = {"default": _db}
else:
    if PRODUCTION:
        raise ImproperlyConfigured("DATABASE_URL must be set in production (PostgreSQL)")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "cnsc.sqlite3"),
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users ----------------------------------------------------------------------------------
AUTH_USER_MODEL = "access.User"
# django-axes first: it refuses a locked-out username+address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "cnsc.access.backends.RoleBackend",
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
# At least 12 characters (OWASP ASVS 2.1.1), not one of the 20,000 most common passwords, not all
# digits, not close to the user's name. There is no network check against breached passwords
# (the servers have no outbound access); see README.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Two-factor sign-in (cnsc/access/twofactor.py). OTP_REQUIRED obliges province staff and
# superusers to use an authenticator app; it is always on in production and off by default in
# development, so the demo accounts sign in with their printed password (whoever sets up an
# authenticator is asked for a code anyway). OTP_REQUIRED_FOR_COMMUNE_OFFICIALS adds commune
# officials and team leaders.
OTP_REQUIRED = env_bool("OTP_REQUIRED", default=PRODUCTION)
if PRODUCTION and not OTP_REQUIRED:
    raise ImproperlyConfigured("OTP_REQUIRED cannot be turned off in production")
OTP_REQUIRED_FOR_COMMUNE_OFFICIALS = env_bool(
    "OTP_REQUIRED_FOR_COMMUNE_OFFICIALS", default=PRODUCTION
)
OTP_TOTP_ISSUER = "CNSC"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Brute-force protection (django-axes): a username is locked for one client address after
# AXES_FAILURE_LIMIT wrong passwords, for AXES_COOLOFF_MINUTES. Only that pair is locked, so
# nobody can lock a user out from elsewhere. The address is read like the rate limits' (below).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
_axes_cooloff_minutes = env_int("AXES_COOLOFF_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or _axes_cooloff_minutes < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be positive")
AXES_COOLOFF_TIME = dt.timedelta(minutes=_axes_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "cnsc.access.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "cnsc.access.views.locked_out"
# cnsc.access.signin writes one structured line per sign-in, failure and lock-out instead.
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "cnsc" / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security -------------------------------------------------------------------------------
# A session ends SESSION_COOKIE_AGE seconds after sign-in however busy, after
# SESSION_IDLE_TIMEOUT seconds without a request, and when the browser closes
# (cnsc.access.middleware.SessionGuardMiddleware).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
if not 60 <= SESSION_IDLE_TIMEOUT <= SESSION_COOKIE_AGE:
    raise ImproperlyConfigured(
        "SESSION_IDLE_TIMEOUT must be at least 60 seconds and at most SESSION_COOKIE_AGE"
    )
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): our own files only, no inline script or style without
# the page's nonce, data: images for QR codes, never framed. Back-office pages drawn by the theme
# get a wider policy (cnsc.core.middleware.BackOfficeCspMiddleware says why).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)

# Key for the keyed hash of citizen identity numbers; kept apart from SECRET_KEY so either
# can be rotated on its own.
CCCD_HASH_KEY = os.environ.get("CCCD_HASH_KEY", "")
if PRODUCTION and len(CCCD_HASH_KEY) < 32:
    raise ImproperlyConfigured("CCCD_HASH_KEY must be set (at least 32 characters) in production")
if not CCCD_HASH_KEY:
    CCCD_HASH_KEY = "dev-only-cccd-key-" + "y" * 20
# Earlier keys, oldest first: a stored hash is HMAC(current, HMAC(previous, ...)); see
# cnsc/core/identity.py and manage.py rekey_cccd.
CCCD_HASH_PREVIOUS_KEYS = env_list("CCCD_HASH_PREVIOUS_KEYS")
if CCCD_HASH_KEY in CCCD_HASH_PREVIOUS_KEYS:
    raise ImproperlyConfigured("CCCD_HASH_PREVIOUS_KEYS must not contain the current CCCD_HASH_KEY")

# Largest spreadsheet accepted by the roster import.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 10 * 1024 * 1024)
# Largest household list accepted (a ward of 100,000 residents is about 15 MB as .csv).
HOUSEHOLD_IMPORT_MAX_BYTES = env_int("HOUSEHOLD_IMPORT_MAX_BYTES", 100 * 1024 * 1024)

# --- Visits ---------------------------------------------------------------------------------------
# A member may correct their own visit for this long after recording it.
VISIT_EDIT_WINDOW_MINUTES = env_int("VISIT_EDIT_WINDOW_MINUTES", 30)
# Visits sent from the field older than this are refused (imports of past visits are not).
VISIT_MAX_AGE_DAYS = env_int("VISIT_MAX_AGE_DAYS", 31)
# Largest photo accepted with a visit or a field report.
VISIT_PHOTO_MAX_BYTES = env_int("VISIT_PHOTO_MAX_BYTES", 8 * 1024 * 1024)
# A check-in farther than this from the hamlet's centre is flagged.
CHECKIN_MAX_DISTANCE_M = env_int("CHECKIN_MAX_DISTANCE_M", 2000)

# --- Training -----------------------------------------------------------------------------------
# Largest handbook PDF accepted for upload, and largest picture in a handbook written in CNSC.
HANDBOOK_MAX_BYTES = env_int("HANDBOOK_MAX_BYTES", 20 * 1024 * 1024)
HANDBOOK_IMAGE_MAX_BYTES = env_int("HANDBOOK_IMAGE_MAX_BYTES", 5 * 1024 * 1024)
# How long an attendance QR code stays usable after it is drawn (the trainer's screen draws a new
# one every few minutes, so a photo of it sent away soon stops working).
ATTENDANCE_CODE_MINUTES = env_int("ATTENDANCE_CODE_MINUTES", 15)
if min(HANDBOOK_MAX_BYTES, HANDBOOK_IMAGE_MAX_BYTES, ATTENDANCE_CODE_MINUTES) <= 0:
    raise ImproperlyConfigured(
        "HANDBOOK_MAX_BYTES, HANDBOOK_IMAGE_MAX_BYTES and ATTENDANCE_CODE_MINUTES must be positive"
    )

# --- Telegram bot -----------------------------------------------------------------------------
# Without a token the web runs as usual and only `manage.py runbot` refuses to start.
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
if TELEGRAM_BOT_TOKEN and not re.fullmatch(r"\d+:[A-Za-z0-9_-]{30,}", TELEGRAM_BOT_TOKEN):
    raise ImproperlyConfigured("TELEGRAM_BOT_TOKEN does not look like a token from @BotFather")
# The bot's username (without @), for invitation links https://t.me/<username>?start=...
TELEGRAM_BOT_USERNAME = os.environ.get("TELEGRAM_BOT_USERNAME", "").strip().lstrip("@")
if TELEGRAM_BOT_USERNAME and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", TELEGRAM_BOT_USERNAME):
    raise ImproperlyConfigured(
        f"TELEGRAM_BOT_USERNAME must be a Telegram username, not {TELEGRAM_BOT_USERNAME!r}"
    )
# Telegram sends it in X-Telegram-Bot-Api-Secret-Token with every webhook call.
TELEGRAM_WEBHOOK_SECRET = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
if TELEGRAM_WEBHOOK_SECRET and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", TELEGRAM_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "TELEGRAM_WEBHOOK_SECRET must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -"
    )
# The public https address Telegram posts updates to (the reverse proxy forwards it to the bot).
TELEGRAM_WEBHOOK_URL = os.environ.get("TELEGRAM_WEBHOOK_URL", "").strip()
if TELEGRAM_WEBHOOK_URL and not TELEGRAM_WEBHOOK_URL.startswith("https://"):
    raise ImproperlyConfigured("TELEGRAM_WEBHOOK_URL must start with https://")
# Where `runbot --webhook` listens, behind the reverse proxy.
TELEGRAM_WEBHOOK_LISTEN = env_str("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1")
TELEGRAM_WEBHOOK_PORT = env_int("TELEGRAM_WEBHOOK_PORT", 8443)
# The Bot API server the bot calls: Telegram's, or a self-hosted telegram-bot-api server (no
# 20 MB download limit, requests stay on the operator's network). Scheme, host and an optional
# path, without the /bot<token> part that follows it in every call.
TELEGRAM_API_BASE_URL = (
    os.environ.get("TELEGRAM_API_BASE_URL", "").strip() or "https://api.telegram.org"
).rstrip("/")
if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~-]+)*", TELEGRAM_API_BASE_URL):
    raise ImproperlyConfigured(
        f"TELEGRAM_API_BASE_URL must be a scheme and host such as https://api.telegram.org, "
        f"not {TELEGRAM_API_BASE_URL!r}"
    )
# Days an invitation to link a Telegram account stays valid.
BOT_INVITATION_DAYS = env_int("BOT_INVITATION_DAYS", 7)
# A visit whose first message reached the bot later than this after it was written: the bot
# asks when the visit happened.
BOT_ASK_VISIT_TIME_AFTER_MINUTES = env_int("BOT_ASK_VISIT_TIME_AFTER_MINUTES", 15)
# Updates of different chats the bot handles at once, each on its own database connection (one
# chat's updates are always handled one at a time, in order). 1: one update at a time. SQLite
# takes one writer at a time, so the bot uses 1 there whatever this says.
BOT_WORKERS = env_int("BOT_WORKERS", 4)

# --- Background jobs (django-tasks) ------------------------------------------------------------
# Broadcasts are delivered by a task, queued in the database (django-tasks-db) so a restart of
# the worker (`manage.py db_worker`) loses nothing.
INSTALLED_APPS.append("django_tasks_db")
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# --- Indicators, dashboards, API and open data ---------------------------------------------------
# Figures are kept for months, quarters and years from this day, for the last INDICATORS_WEEKS
# weeks and the last INDICATORS_DAYS days (older weeks and days: ask for months).
try:
    INDICATORS_SINCE = dt.date.fromisoformat(os.environ.get("INDICATORS_SINCE") or "2022-01-01")
except ValueError:
    raise ImproperlyConfigured("INDICATORS_SINCE must be a date such as 2022-01-01") from None
INDICATORS_WEEKS = env_int("INDICATORS_WEEKS", 53)
INDICATORS_DAYS = env_int("INDICATORS_DAYS", 35)
if not (1 <= INDICATORS_WEEKS <= 520 and 1 <= INDICATORS_DAYS <= 3660):
    raise ImproperlyConfigured("INDICATORS_WEEKS must be 1-520 and INDICATORS_DAYS 1-3660")
# Open data leaves out every unit with fewer households than this, and every share whose
# denominator is smaller: no published figure may single out a person.
OPEN_DATA_MIN_HOUSEHOLDS = env_int("OPEN_DATA_MIN_HOUSEHOLDS", 20)
if OPEN_DATA_MIN_HOUSEHOLDS < 1:
    raise ImproperlyConfigured("OPEN_DATA_MIN_HOUSEHOLDS must be at least 1")

# --- Public verification of badges and certificates -----------------------------------------
# The address residents reach, printed in every QR code: configured, because behind a proxy the
# host a request arrives on may be an internal one. Scheme and host only.
PUBLIC_BASE_URL = (
    os.environ.get("PUBLIC_BASE_URL")
    or (
        f"https://{ALLOWED_HOSTS[0].lstrip('.')}"
        if PRODUCTION and ALLOWED_HOSTS
        else "http://127.0.0.1:8000"
    )
).rstrip("/")
if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?", PUBLIC_BASE_URL):
    raise ImproperlyConfigured(
        f"PUBLIC_BASE_URL must be a scheme and host such as https://cnsc.example.gov.vn, "
        f"not {PUBLIC_BASE_URL!r}"
    )
if PRODUCTION and not PUBLIC_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured("PUBLIC_BASE_URL must use https in production")
# Checks per visitor IP on the verify page, in django-ratelimit's notation (30/m: 30 a minute).
VERIFY_RATE_LIMIT = os.environ.get("VERIFY_RATE_LIMIT") or "30/m"
if not re.fullmatch(r"\d+/\d*[smhd]", VERIFY_RATE_LIMIT):
    raise ImproperlyConfigured(f"VERIFY_RATE_LIMIT must look like 30/m, not {VERIFY_RATE_LIMIT!r}")
# Requests per API client (per token) and, on the API's public documents (open data, OpenAPI),
# per visitor IP. Past the limit the answer is 429 with Retry-After; other clients are unaffected.
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT") or "600/m"
API_PUBLIC_RATE_LIMIT = os.environ.get("API_PUBLIC_RATE_LIMIT") or "120/m"
for _name, _rate in (
    ("API_RATE_LIMIT", API_RATE_LIMIT),
    ("API_PUBLIC_RATE_LIMIT", API_PUBLIC_RATE_LIMIT),
):
    if not re.fullmatch(r"\d+/\d*[smhd]", _rate):
        raise ImproperlyConfigured(f"{_name} must look like 600/m, not {_rate!r}")
# Where the visitor's IP is read. Behind a reverse proxy, the header it sets (HTTP_X_REAL_IP),
# or every resident shares the proxy's one allowance.
RATELIMIT_IP_META_KEY = os.environ.get("RATELIMIT_IP_META_KEY") or "REMOTE_ADDR"

# --- Cache: rate-limit counters ----------------------------------------------------------------
# Rate limits count in the cache. With several web processes (gunicorn workers, several
# machines) it must be shared, or each process keeps its own allowance: set REDIS_URL. Without
# it, a cache in the process's memory (fine for one process and for development).
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    if not re.fullmatch(r"(rediss?|unix)://\S+", REDIS_URL):
        raise ImproperlyConfigured(
            f"REDIS_URL must look like redis://127.0.0.1:6379/0, not {REDIS_URL!r}"
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cnsc",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Logging: one JSON line per event, never personal data -----------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        },
    },
    # The bot token is part of every Bot API URL: it is cut out of any line, whoever logs it.
    "filters": {"redact_secrets": {"()": "cnsc.bot.logs.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request log below replaces Django's own access lines.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # The HTTP client logs each request's URL at INFO, and a Bot API URL holds the token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # django-axes narrates every sign-in at INFO; cnsc.security has one line per event.
        "axes": {"level": "WARNING"},
    },
}

# --- Admin theme ----------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "CNSC",
    "SITE_HEADER": _("Community digital technology teams"),
    "SITE_SYMBOL": "diversity_3",
    "SHOW_LANGUAGES": True,
    "SHOW_HISTORY": True,
    "SIDEBAR": {"show_search": True, "show_all_applications": True},
    # The user menu: password, and two-factor sign-in (set up, new recovery codes, new phone).
    "ACCOUNT": {
        "navigation": [
            {"title": _("Change password"), "link": reverse_lazy("admin:password_change")},
            {"title": _("Two-factor sign-in"), "link": reverse_lazy("access:recovery_codes")},
        ]
    },
}
