"""SoundForge settings: one file, every value from the environment (see docs/operations.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from tracks.ports import contract

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


VAR_DIR = Path(env_str("SOUNDFORGE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The key from the environment, or one generated once into var/ for a development install."""
    if key := os.environ.get("SOUNDFORGE_SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("SOUNDFORGE_DEBUG", False)
ALLOWED_HOSTS = [h for h in env_str("SOUNDFORGE_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("SOUNDFORGE_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "django_rq",
    "csp",
    "axes",
    "ninja",
    "tracks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "soundforge.middleware.private_responses",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]
# django-axes counts failed logins per username and address and locks that pair out for a while.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("SOUNDFORGE_LOGIN_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SOUNDFORGE_LOGIN_LOCKOUT_MIN", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Limits per user: uploads per period (django-ratelimit, counted in Redis so every web process agrees),
# storage for originals and stems, and jobs asked for by hand (re-analyses, separations) at once.
UPLOAD_RATE = env_str("SOUNDFORGE_UPLOAD_RATE", "60/h")
# Per client address: sign-ups, and log-in attempts across every account (password spraying; django-axes
# counts the failures of each account at each address).
SIGNUP_RATE = env_str("SOUNDFORGE_SIGNUP_RATE", "10/h")
LOGIN_RATE = env_str("SOUNDFORGE_LOGIN_RATE", "30/15m")
USER_QUOTA_MB = env_int("SOUNDFORGE_USER_QUOTA_MB", 5120, minimum=1)
MAX_ACTIVE_JOBS = env_int("SOUNDFORGE_MAX_ACTIVE_JOBS", 4, minimum=1)
# Jobs past MAX_ACTIVE_JOBS wait their turn (a bulk action's separations, say); past this many, refused.
MAX_WAITING_JOBS = env_int("SOUNDFORGE_MAX_WAITING_JOBS", 2000, minimum=0)
RATELIMIT_USE_CACHE = "ratelimit"
# Webhooks: the waits between a failed delivery's tries (seconds; one more try than waits), and whether a
# URL may resolve to a loopback or private address (a server on the same network: off, as it could reach
# what the internet may not).
WEBHOOK_BACKOFF_S = [int(s) for s in env_str("SOUNDFORGE_WEBHOOK_BACKOFF_S", "10,60,300,1800,7200").split(",") if s]
WEBHOOK_ALLOW_PRIVATE = env_bool("SOUNDFORGE_WEBHOOK_ALLOW_PRIVATE", False)
# Requests per API token (or per signed-in person's session, or per share link) through /api/v1/.
API_RATE = env_str("SOUNDFORGE_API_RATE", "600/m")

ROOT_URLCONF = "soundforge.urls"
ASGI_APPLICATION = "soundforge.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per process (psycopg_pool): under ASGI every request and socket would otherwise open a new
    # connection (Django's advice: no persistent connections under ASGI, the driver's pool instead).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": env_int("SOUNDFORGE_DB_POOL_SIZE", 8, minimum=1), "timeout": 30}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the test suite's worker subprocesses must see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # Write-ahead logging: readers (pages) never wait for writers (workers' progress), and a writing
    # transaction takes its lock up front rather than failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    # Kept open: a new SQLite connection costs more than a page's queries (Django registers its functions,
    # SQLite parses the schema at the first statement). All of a web process's database work runs in its one
    # sync thread (soundforge/asgi.py, channels' database_sync_to_async), so that is a connection a process.
    DATABASES["default"]["CONN_MAX_AGE"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "soundforge.static_files.StaticFiles"},
}
# Media is never served from a public path: audio goes out through a view that checks access.
MEDIA_ROOT = Path(env_str("SOUNDFORGE_MEDIA_ROOT", str(VAR_DIR / "media")))
# Or an S3-compatible bucket (django-storages), so that workers on other machines need only the database,
# Redis and the bucket; credentials come the usual boto3 way (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...).
S3_BUCKET = env_str("SOUNDFORGE_S3_BUCKET", "")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("SOUNDFORGE_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("SOUNDFORGE_S3_REGION", "") or None,
            "location": env_str("SOUNDFORGE_S3_PREFIX", ""),
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,  # private objects: the app hands out short-lived signed URLs
        },
    }
# A front server may send the files once the app has checked access: "x-accel-redirect" (nginx: an
# `internal` location at SENDFILE_PREFIX aliased to MEDIA_ROOT) or "x-sendfile" (Apache, lighttpd, Caddy);
# empty: the app streams them itself.
SENDFILE = env_str("SOUNDFORGE_SENDFILE", "").lower()
if SENDFILE not in ("", "x-accel-redirect", "x-sendfile"):
    raise ImproperlyConfigured("SOUNDFORGE_SENDFILE must be empty, x-accel-redirect or x-sendfile")
SENDFILE_PREFIX = env_str("SOUNDFORGE_SENDFILE_PREFIX", "/protected-media/")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SOUNDFORGE_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Scripts, styles, media and sockets from this site only: no inline script, no eval (htmx runs with
# allowEval and its indicator styles off, see base.html). Style attributes stay allowed: the server sets
# positions and widths (progress bars, chord and section lanes) that way.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # WebAssembly may be compiled (not JS evaluated): the mixer's tempo and pitch worklet is WASM.
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        # The track page's one <style> (which comments are yours) carries the response's nonce.
        "style-src": ["'self'", NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Uploads: Django streams anything over 2.5 MB to a temporary file, never into memory.
MAX_UPLOAD_MB = env_int("SOUNDFORGE_MAX_UPLOAD_MB", 200, minimum=1)
MAX_DURATION_S = env_int("SOUNDFORGE_MAX_DURATION_S", 30 * 60, minimum=1)
# The web process (soundforge/runtime/web.py) answers 408 to a request body that stops arriving for this long.
BODY_IDLE_S = env_int("SOUNDFORGE_BODY_IDLE_S", 30, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "tracks.files.uploads.UploadLimitHandler",  # stops an oversized upload before it is stored
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Redis: `manage.py serve` and the test suite start an embedded server when REDIS_URL is not answering
# and hand its URL to every process through this same variable.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

RQ_QUEUES = {
    contract.ANALYSIS_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600},
    contract.PROCESSING_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 4 * 3600},
}
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "tracks.worker.Worker"}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                  "KEY_PREFIX": "soundforge:ratelimit"},
}
ANALYSIS_WORKERS = env_int("SOUNDFORGE_ANALYSIS_WORKERS", 2, minimum=1)
PROCESSING_WORKERS = env_int("SOUNDFORGE_PROCESSING_WORKERS", 2, minimum=1)
# daphne processes sharing the listening socket (`manage.py serve`): one a core, up to four.
WEB_PROCESSES = env_int("SOUNDFORGE_WEB_PROCESSES", min(4, os.cpu_count() or 1), minimum=1)
# Threads per web process (soundforge/asgi.py) for pages, and for long requests (uploads, downloads): a
# request takes the least busy of its kind; each keeps its database connection.
WEB_THREADS = env_int("SOUNDFORGE_WEB_THREADS", 1, minimum=1)
WEB_LONG_THREADS = env_int("SOUNDFORGE_WEB_LONG_THREADS", 2, minimum=1)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, which races the layer's 5 s blocking
            # BZPOPMIN and tears every idle socket down (django/channels_redis#422); read a while longer.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": "soundforge:channels",
        },
    }
}

# Ports: each job is one subprocess with these limits (see tracks/ports/host/runner.py).
PORT_PYTHON = env_str("SOUNDFORGE_PORT_PYTHON", "")  # empty: the interpreter running Django
ANALYSIS_TIMEOUT_S = env_int("SOUNDFORGE_ANALYSIS_TIMEOUT_S", 900, minimum=1)
PORT_MEMORY_MB = env_int("SOUNDFORGE_PORT_MEMORY_MB", 4096, minimum=64)
PORT_MAX_FILE_MB = env_int("SOUNDFORGE_PORT_MAX_FILE_MB", 2048, minimum=1)  # no file a port writes grows past it
# Ports run at this nice level: analysis and separation yield the CPU to the web server and its websockets.
PORT_NICE = env_int("SOUNDFORGE_PORT_NICE", 10, minimum=0)
# A running job whose worker stops (killed, its machine gone) is noticed after this long without a heartbeat
# and run again, up to JOB_ATTEMPTS claims in all, then failed (jobs.recover; `manage.py serve` runs it at
# start-up and every RECOVER_EVERY_S).
JOB_STALE_S = env_int("SOUNDFORGE_JOB_STALE_S", 60, minimum=10)
JOB_ATTEMPTS = env_int("SOUNDFORGE_JOB_ATTEMPTS", 2, minimum=1)
RECOVER_EVERY_S = env_int("SOUNDFORGE_RECOVER_EVERY_S", 15, minimum=1)
# A queued row Redis does not have is enqueued again once it is this old (never racing its own enqueue).
JOB_ENQUEUE_GRACE_S = env_int("SOUNDFORGE_JOB_ENQUEUE_GRACE_S", 30, minimum=1)
NUMBA_CACHE_DIR = Path(env_str("NUMBA_CACHE_DIR", str(VAR_DIR / "numba-cache")))
# `manage.py serve` keeps a warm analyzer (tracks/ports/host/warm.py) that has librosa loaded and forks each
# analysis from it: still one process per job, without seconds of imports each time. Workers without one
# (started on their own, or with this off) start the port cold.
WARM_ANALYZER = env_bool("SOUNDFORGE_WARM_ANALYZER", True)
ANALYZER_SOCKET = VAR_DIR / "run" / "analyzer.sock"
# Separation: a local demucs repo (<name>.yaml bags and <sig>-<sha8>.th weights); empty means demucs's own
# download on first use. A job may run for a base time plus so much per minute of audio.
MODELS_DIR = env_str("SOUNDFORGE_MODELS_DIR", "")
DEFAULT_SEPARATION_MODEL = env_str("SOUNDFORGE_DEFAULT_MODEL", contract.DEFAULT_MODEL)
SEPARATION_TIMEOUT_S = env_int("SOUNDFORGE_SEPARATION_TIMEOUT_S", 600, minimum=1)
SEPARATION_TIMEOUT_PER_MINUTE_S = env_int("SOUNDFORGE_SEPARATION_TIMEOUT_PER_MINUTE_S", 600, minimum=0)

# Every line says which job it is about (soundforge/logs.py); SOUNDFORGE_LOG_FORMAT=json writes one JSON
# object a line (python-json-logger) for a log collector.
LOG_FORMAT = env_str("SOUNDFORGE_LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("SOUNDFORGE_LOG_FORMAT must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"job": {"()": "soundforge.logs.JobFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [job %(job)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(job)s %(process)d %(message)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["job"]}},
    "root": {"handlers": ["console"], "level": env_str("SOUNDFORGE_LOG_LEVEL", "INFO")},
}

# Mail (sign-up verification, invitations, password reset): printed on the console unless an SMTP host is
# given.
EMAIL_HOST = env_str("SOUNDFORGE_SMTP_HOST", "")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = env_int("SOUNDFORGE_SMTP_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("SOUNDFORGE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("SOUNDFORGE_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("SOUNDFORGE_SMTP_TLS", True)
DEFAULT_FROM_EMAIL = env_str("SOUNDFORGE_MAIL_FROM", "SoundForge <soundforge@localhost>")
