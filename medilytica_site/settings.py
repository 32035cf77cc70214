"""MediLytica settings: one file, driven by the environment (DESIGN.md section 3).

Every value can come from an environment variable, a `.env` file beside manage.py,
or (for secrets) a file named by `<NAME>_FILE`. Production behaviour is switched by
variables (DEBUG=false), never by a second copy of this file.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")


def _secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from NAME, or from the file that NAME_FILE points at."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return env.str(name, default=default)


def _storage_path(name: str, default: str) -> Path:
    path = Path(env.str(name, default=default))
    return path if path.is_absolute() else BASE_DIR / path


DEBUG = env.bool("DEBUG", default=True)

# --- secret key -----------------------------------------------------------------
SECRET_KEY = _secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG=false.")
    # Development: one random key per checkout, kept so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()
if len(SECRET_KEY.encode()) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 bytes long.")

# --- hosts and origins ------------------------------------------------------------
# A socket opens, and a session write passes CSRF, only from the server's own origin
# (scheme, host and port; the host one of ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS
# (medilytica_site/ws_auth.py). "*" is refused: any Host would be the server's own.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
if "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must name the hosts; '*' would let any origin open a WebSocket."
    )
HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
CORS_ALLOWED_ORIGINS = env.list("CORS_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True
# Pages on other origins that may write with the session cookie and open sockets, e.g.
# "http://127.0.0.1:5173" for a dev server that forwards with a Host of its own.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- applications -------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "medilytica_site.apps.AdminConfig",  # django.contrib.admin with the login policy's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from /static/, no CDN
    "channels",
    "django_q",
    "axes",
    "collaboration",
    "datasets",
    "mlmodels",
    "training",
    "medilytica_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its answer
]

ROOT_URLCONF = "medilytica_site.urls"
ASGI_APPLICATION = "medilytica_site.asgi.application"
WSGI_APPLICATION = "medilytica_site.wsgi.application"
AUTH_USER_MODEL = "collaboration.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
APPEND_SLASH = False  # every API path takes an optional trailing slash itself

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

# --- database -----------------------------------------------------------------------
# DATABASE_URL and REDIS_URL carry passwords, so they may come from *_FILE like any secret.
DATABASES = {
    "default": env.db_url_config(_secret("DATABASE_URL", default="sqlite:///./medilytica.db"))
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] not in ("", ":memory:") and not Path(_db["NAME"]).is_absolute():
        _db["NAME"] = str(BASE_DIR / _db["NAME"])
    # A web process and several workers write at once: WAL lets readers go on while
    # one writes, IMMEDIATE takes the write lock up front (no deadlocked upgrades),
    # and the timeout makes a writer wait instead of failing with "database is locked".
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_TIMEOUT", default=30),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Reopening SQLite per request checkpoints the WAL on every close (~20 ms a chat
    # message instead of ~2 ms); keep connections a while. PostgreSQL keeps Django's 0,
    # as thread-pooled ASGI code would otherwise hold many server connections.
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Tests use a file too: an in-memory database shares one lock across threads and
    # would hide (or fake) exactly the concurrency behaviour the tests check.
    # One file per test process, so two test runs on one machine never share it.
    _db["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"medilytica-test-{os.getpid()}.db")}
else:
    # Under ASGI every request runs in a thread of its own, so Django's per-thread
    # connections (CONN_MAX_AGE) are never reused: each request would open, and under
    # a burst hold, a server connection of its own ("too many clients"). A pool per
    # process hands connections back at the end of each request and makes a burst
    # wait for one instead. DB_POOL_MAX_SIZE=0 turns it off (e.g. behind PgBouncer).
    _pool_max = env.int("DB_POOL_MAX_SIZE", default=10)
    if _db["ENGINE"] == "django.db.backends.postgresql" and _pool_max > 0:
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": _pool_max,
            "timeout": env.float("DB_POOL_TIMEOUT", default=20.0),
        }
        _db["CONN_MAX_AGE"] = 0  # Django requires it with a pool
    else:
        _db["CONN_HEALTH_CHECKS"] = True

# --- Redis, channel layer, cache, task queue ----------------------------------------
REDIS_URL = _secret("REDIS_URL", default="")
MAX_TRAINING_TIME = env.int("MAX_TRAINING_TIME", default=3600)
DEFAULT_BATCH_SIZE = env.int("DEFAULT_BATCH_SIZE", default=64)
# A run whose estimated peak memory (training.ml.sizing) is over WORKER_MEMORY_LIMIT,
# or whose model would be over MODEL_MAX_BYTES, is refused at start (400 naming the
# knob); a worker whose memory passes the limit while training fails the run.
WORKER_MEMORY_LIMIT = env.int("WORKER_MEMORY_LIMIT", default=3 * 1024**3)
MODEL_MAX_BYTES = env.int("MODEL_MAX_BYTES", default=256 * 1024**2)
# Runs queued or running at once, per user and per workspace; one more is a 429. The
# workers take queued runs round-robin across workspaces (training.services).
RUNS_ACTIVE_PER_USER = env.int("RUNS_ACTIVE_PER_USER", default=10)
RUNS_ACTIVE_PER_WORKSPACE = env.int("RUNS_ACTIVE_PER_WORKSPACE", default=30)
# A running worker beats every 5 s; silence this long means it died (kill -9, OOM).
TRAINING_HEARTBEAT_TIMEOUT = env.int("TRAINING_HEARTBEAT_TIMEOUT", default=20)

if REDIS_URL:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group message is published once and each server process
            # fans it out to its own sockets, instead of one Redis list entry and one
            # round trip per socket. Nothing is lost by the layer's lack of storage:
            # every message is in the database before it is sent. channels_redis's
            # layer, but for its race on reconnecting (medilytica_site/channel_layer.py).
            "BACKEND": "medilytica_site.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 times socket reads out after 5 s by default; keep
                        # idle subscriptions and blocking reads alive.
                        "socket_timeout": 30,
                        # The layer's pool gives its connections no retry (only a client
                        # that makes its own pool has one): a command on a connection
                        # that died with a Redis restart failed, though redis-py had
                        # reconnected. Send it once more, on the new connection.
                        "retry": Retry(NoBackoff(), 1),
                    }
                ],
                "prefix": "medilytica",
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "medilytica_site.cache.SharedPoolRedisCache",  # one pool per process
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "medilytica",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = {
    "name": "medilytica",
    "workers": env.int("Q_WORKERS", default=2),
    # django-q2 reads this once at import; tests and single-process runs set Q_SYNC.
    "sync": env.bool("Q_SYNC", default=not REDIS_URL),
    "timeout": MAX_TRAINING_TIME + 60,
    "retry": MAX_TRAINING_TIME + 180,  # must exceed timeout or a live task is redelivered
    "max_attempts": 2,
    "recycle": 50,
    # A worker past 3/4 of WORKER_MEMORY_LIMIT after a task is replaced by a fresh one.
    "max_rss": env.int("Q_MAX_RSS_KB", default=WORKER_MEMORY_LIMIT * 3 // 4 // 1024),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- storage ------------------------------------------------------------------------
# "local" keeps files in three folders; "s3" puts them in one bucket of any S3-compatible
# store, each alias under its own key prefix, so that workers on other machines and
# several web processes share them (DESIGN.md section 1).
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")
MODEL_STORAGE_PATH = _storage_path("MODEL_STORAGE_PATH", "./storage/models")
DATA_STORAGE_PATH = _storage_path("DATA_STORAGE_PATH", "./storage/data")
RESULTS_STORAGE_PATH = _storage_path("RESULTS_STORAGE_PATH", "./storage/results")
_storage_locations = {
    "default": ("results", RESULTS_STORAGE_PATH),
    "datasets": ("data", DATA_STORAGE_PATH),
    "models": ("models", MODEL_STORAGE_PATH),
    "results": ("results", RESULTS_STORAGE_PATH),
}
if STORAGE_BACKEND == "local":
    STORAGES = {
        alias: {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(path)},
        }
        for alias, (_prefix, path) in _storage_locations.items()
    }
elif STORAGE_BACKEND == "s3":
    _s3_options = {
        "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
        "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),  # unset: AWS itself
        "region_name": env.str("AWS_S3_REGION_NAME", default=None),
        # Unset keys leave boto3 its own chain (instance role, ~/.aws, web identity).
        "access_key": _secret("AWS_ACCESS_KEY_ID"),
        "secret_key": _secret("AWS_SECRET_ACCESS_KEY"),
        "security_token": _secret("AWS_SESSION_TOKEN"),
        "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default=None),  # "path": MinIO
        "default_acl": None,  # objects stay private; the API streams them to members
        "querystring_auth": True,
        # Keys are fresh UUIDs: skip the existence probe before every write.
        "file_overwrite": True,
        # A file read back (download, training, preview) spills to disk past this size
        # instead of being held whole in memory (django-storages' default is no limit).
        "max_memory_size": env.int("AWS_S3_MAX_MEMORY_SIZE", default=16 * 1024 * 1024),
    }
    STORAGES = {
        alias: {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**_s3_options, "location": prefix},
        }
        for alias, (prefix, _path) in _storage_locations.items()
    }
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'local' or 's3', not {STORAGE_BACKEND!r}.")
STORAGES["staticfiles"] = {
    "BACKEND": (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
}
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request about a missing root
WHITENOISE_USE_FINDERS = DEBUG
# The built web app (`make run` runs Vite once): its hashed assets are served as static
# files under /static/assets/, its entry is read from Vite's manifest by the index view.
WEBAPP_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [WEBAPP_DIST] if WEBAPP_DIST.is_dir() else []

MAX_UPLOAD_SIZE = env.int("MAX_UPLOAD_SIZE", default=500 * 1024 * 1024)
# Uploads stream to a temporary file past this size, so a big file is never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_JSON_BODY", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 5
# Uploads are parsed by the workers: a user has at most this many datasets, and as many
# models, `processing` at once (one more is a 429). A worker gets DATASET_PROCESS_TIMEOUT
# (MODEL_PROCESS_TIMEOUT) seconds from its claim; the sweep then rejects the upload.
UPLOADS_PER_USER = env.int("UPLOADS_PER_USER", default=3)
DATASET_PROCESS_TIMEOUT = env.int("DATASET_PROCESS_TIMEOUT", default=1800)
MODEL_PROCESS_TIMEOUT = env.int("MODEL_PROCESS_TIMEOUT", default=600)
DATASET_MAX_COLUMNS = env.int("DATASET_MAX_COLUMNS", default=2000)
# gzip and Parquet are expanded at most this far (a decompression bomb stops here);
# unset, twice MAX_UPLOAD_SIZE.
DATASET_MAX_DECOMPRESSED_SIZE = env.int("DATASET_MAX_DECOMPRESSED_SIZE", default=None)
MODEL_CACHE_SIZE = env.int("MODEL_CACHE_SIZE", default=8)  # loaded models kept per process
# HTTP requests one web process works on at once (medilytica_site/handler.py); more
# wait their turn on the event loop. At most DB_POOL_MAX_SIZE with PostgreSQL.
WEB_REQUEST_THREADS = env.int("WEB_REQUEST_THREADS", default=8)
# Of those, uploads (their bodies parsed from multipart) at most this many at once.
WEB_UPLOAD_THREADS = env.int("WEB_UPLOAD_THREADS", default=2)

# Bytes daphne may hold for one WebSocket client that does not read before dropping
# it (medilytica_site/ws_send_buffer.py); 0 turns the cap off.
WS_SEND_BUFFER_LIMIT = env.int("WS_SEND_BUFFER_LIMIT", default=16 * 1024 * 1024)
# Seconds between an open socket's own re-reads of its user's access; the change
# itself is announced at once (collaboration/signals.py), this bounds a lost notice.
WS_ACCESS_RECHECK_SECONDS = env.float("WS_ACCESS_RECHECK_SECONDS", default=5.0)
# Chat and code-editing limits: defaults and meaning in collaboration/limits.py;
# any of them may be set from the environment.
for _name, _cast in [
    ("CHAT_RATE_LIMIT", env.int),
    ("CHAT_RATE_WINDOW", env.int),
    ("CHAT_SOCKET_RATE", env.float),
    ("CHAT_SOCKET_BURST", env.int),
    ("CODE_SOCKET_RATE", env.float),
    ("CODE_SOCKET_BURST", env.int),
    ("CODE_DOCUMENT_MAX_BYTES", env.int),
    ("CODE_FRAME_BYTES", env.int),
    ("CODE_AWARENESS_STATE_BYTES", env.int),
    ("WS_MAX_SOCKETS_PER_USER", env.int),
]:
    if _name in os.environ:
        globals()[_name] = _cast(_name)

# --- auth ---------------------------------------------------------------------------
ALLOW_REGISTRATION = env.bool("ALLOW_REGISTRATION", default=True)
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# One login policy for the API and the admin (django-axes): failures count per username
# *and* address, so a stranger's guesses lock out the stranger's address, not the owner.
# Limit and cool-off are read from the two settings above on every check.
AUTHENTICATION_BACKENDS = [
    "medilytica_site.backends.LockoutBackend",  # first: refuses a locked login unchecked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "medilytica_site.services.login_failure_limit"
AXES_COOLOFF_TIME = "medilytica_site.services.login_cool_off"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused try does not extend the lock
AXES_CLIENT_IP_CALLABLE = "collaboration.services.client_address"  # the audit's address
AXES_LOCKOUT_CALLABLE = "medilytica_site.auth_views.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successes are in the audit trail already
AXES_VERBOSE = False
WS_TICKET_TTL_SECONDS = 60
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "medilytica_site.api.Pagination",
    # JSON bodies bounded in size and nesting (medilytica_site/parsers.py).
    "DEFAULT_RENDERER_CLASSES": [
        "medilytica_site.renderers.FastJSONRenderer",  # orjson, DRF's bytes
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "medilytica_site.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "medilytica_site.schema.AutoSchema",  # documents error responses
    "DEFAULT_THROTTLE_CLASSES": [
        "medilytica_site.throttling.UserRateThrottle",  # one cache round trip a call
        "medilytica_site.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="3000/minute"),
        "anon": env.str("THROTTLE_ANON", default="300/minute"),
        "login": env.str("THROTTLE_LOGIN", default="30/minute"),
    },
    "EXCEPTION_HANDLER": "medilytica_site.api.exception_handler",
    # Throttles count the connection's peer address, never a client-written
    # X-Forwarded-For (behind a proxy, daphne --proxy-headers puts the client there).
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MediLytica API",
    "DESCRIPTION": "Collaborative machine-learning workbench for clinical and tabular data.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api",
    # The docs pages load their scripts from our own /static/ (drf-spectacular-sidecar):
    # they work offline and under a Content-Security-Policy of 'self'.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several resources have a `status`; name each choice set so clients get stable types.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "training.models.RunStatus",
        "HealthStatusEnum": ["ok", "degraded"],
        "MlpSpecFormatEnum": ["medilytica.mlp"],
        "DatasetFormatEnum": "datasets.models.Dataset.Format",
        # A dataset's and an uploaded model's: processing, ready, rejected.
        "UploadStatusEnum": "datasets.models.Dataset.Status",
        "TaskEnum": "mlmodels.models.Task",
        "PredictWarningCodeEnum": "mlmodels.row_warnings.WARNING_CODES",
    },
}

# --- security (check --deploy clean when DEBUG=false) ---------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "medilytica_site.views.csrf_failure"  # JSON under /api/
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REDIRECT_EXEMPT = [r"^api/health(/live|/ready)?/?$"]  # load balancers probe over HTTP
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- misc -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
