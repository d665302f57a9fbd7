"""MoodWatch settings: one module, driven entirely by environment variables.

With nothing set it runs the embedded default (SQLite under var/, Celery tasks executed in
process) so `make run` works on a bare machine. With DATABASE_URL and CELERY_BROKER_URL set the
same code runs on PostgreSQL, Redis and separate workers.

Production fails closed: when DJANGO_ENV=production or DEBUG is off, SECRET_KEY and
ALLOWED_HOSTS must come from the environment and the secure-transport settings are on, so
`manage.py check --deploy` is clean.
"""
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from backend.alerts.definitions import RULES, Thresholds, thresholds_problems

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; a missing file is ignored

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, production or test, not {DJANGO_ENV!r}")
DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")
# DJANGO_ENV=test (set by `make test`) is the only non-debug mode allowed to use built-in secrets.
PRODUCTION = DJANGO_ENV == "production" or (DJANGO_ENV == "development" and not DEBUG)

if PRODUCTION:
    # No default: a deployment that forgets its secret must not start.
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production")
else:
    SECRET_KEY = env.str("SECRET_KEY", default=f"django-insecure-{DJANGO_ENV}-only-key-never-use-in-production")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served as our own static files
    "axes",  # failed-login lockout per account, with its own log of attempts (django-axes)
    "django_otp",  # second factor: verification state in the session, device throttling
    "django_otp.plugins.otp_totp",  # authenticator-app (TOTP) devices
    "django_otp.plugins.otp_static",  # one-time recovery codes
    "backend.core",
    "backend.patients",
    "backend.devices",
    "backend.ingest",
    "backend.moods",
    "backend.audit",
    "backend.alerts",
    "backend.rollups",
    "backend.clinician_api",
    "backend.twofactor",
    "backend.backups",  # db_backup / db_restore: pg_dump with a manifest, checked restores
    "backend.workflows",  # the orchestration layer: cross-app workflows (docs/architecture.md)
    "dashboard",
    "clients.patient_app",  # the patient app (PWA) at /app/: static files and its shell page
]
if not PRODUCTION:
    INSTALLED_APPS.append("backend.demo")  # `make run`: demo_run (DEMO clinician, patients, simulator feed)

MIDDLEWARE = [
    "backend.core.logs.RequestIdMiddleware",  # X-Request-ID in, out, and on every log line of the request
    "backend.core.metrics.RequestMetricsMiddleware",  # counts and times every answer by route name
    "backend.core.health.HealthCheckMiddleware",  # /healthz, before host checks and the HTTPS redirect
    "backend.core.metrics.MetricsMiddleware",  # /metrics (bearer METRICS_TOKEN), likewise
    "backend.core.middleware.RequestParseErrorMiddleware",  # too many fields/files: a 400, also under DEBUG
    "backend.core.middleware.ApiJsonErrorMiddleware",  # any non-JSON error under /api/ becomes JSON
    "backend.core.middleware.RequestSizeLimitMiddleware",  # 413 from Content-Length, before any body is read
    "backend.core.middleware.UriTooLongMiddleware",  # 414 for a too-long address, before it is parsed
    "backend.core.middleware.NulCharacterMiddleware",  # 400 for NUL in the path or query, before any view
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): second factor given this session
    "backend.twofactor.middleware.SecondFactorMiddleware",  # no page or API call before the second factor
    "dashboard.middleware.ClinicianTimezoneMiddleware",  # pages outside a patient's: the clinician's own zone
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.core.middleware.SecurityHeadersMiddleware",  # CSP and no-store on every dynamic answer
    "backend.core.middleware.DatabaseUnavailableMiddleware",  # a database outage is a 503, not a 500
    "backend.core.middleware.BadRequestMiddleware",  # a page's invalid query is a 400 page, DEBUG or not
    "backend.core.middleware.LoginThrottleMiddleware",  # login attempts per client address
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out account before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

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
                "dashboard.context_processors.alert_badge",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Eager tasks write from the request thread; a busy timeout avoids "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
if env.str("TEST_DATABASE_NAME", default=""):
    # Lets two test runs share one PostgreSQL server without dropping each other's test database.
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}
if DJANGO_ENV == "test" and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django empties the test database between transactional tests with TRUNCATE, which the audit
    # log's trigger refuses unless the session allows it (backend/audit/migrations/0005).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c moodwatch.allow_audit_truncate=on"
# The restricted role web, worker and beat connect as; `manage.py db_app_role` (run by the owner,
# after migrate) creates it and grants it its rights. Empty: the command needs --role/--password.
APP_DATABASE_URL = env.str("APP_DATABASE_URL", default="")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://moodwatch")}

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

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production and `make run` (which sets MOODWATCH_HASHED_STATIC and runs collectstatic before its
# server starts) serve what collectstatic wrote into STATIC_ROOT: content-hashed names, cached as
# immutable, with gzip copies (backend/core/static_storage.py). Elsewhere (tests, a bare runserver)
# WhiteNoise serves the finders' files under their plain names, re-read at each request.
HASHED_STATIC = PRODUCTION or env.bool("MOODWATCH_HASHED_STATIC", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "backend.core.static_storage.HashedStaticFilesStorage"
            if HASHED_STATIC
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
if HASHED_STATIC:  # WhiteNoise's defaults follow DEBUG, which `make run` keeps on
    WHITENOISE_USE_FINDERS = False
    WHITENOISE_AUTOREFRESH = False

LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:patient-list"
LOGOUT_REDIRECT_URL = "dashboard:login"
# LiteRT.js, the patient app's in-browser model runtime, comes from npm (`npm ci` installs the
# pinned package-lock.json into node_modules/; never a CDN): only its ES modules and WASM files are
# served, under static/vendor/litertjs/ (see clients/patient_app/runtime.py and docs/patient-runtime.md).
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/litertjs/core", NODE_MODULES / "@litertjs" / "core" / "dist"),
    ("vendor/litertjs/wasm", NODE_MODULES / "@litertjs" / "core" / "wasm"),
    ("vendor/litertjs/wasm-utils", NODE_MODULES / "@litertjs" / "wasm-utils" / "dist"),
]
# Plotly's JavaScript (the partial bundle the charts need) comes from npm too, one file: see dashboard/staticfiles.py.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "dashboard.staticfiles.PlotlyFinder",
]

# --- security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Idle timeout: every request pushes the expiry forward, so a session ends after this long unused.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# The dashboard's JavaScript never reads the CSRF cookie (forms carry the token), so hide it from scripts.
CSRF_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("BEHIND_TLS_PROXY", default=True):
        # The TLS-terminating proxy in front of gunicorn must set (and strip) this header.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- uploads: every frame-batch limit is configurable ---------------------------------------------
MOODWATCH = {
    "MAX_FRAMES_PER_BATCH": env.int("MAX_FRAMES_PER_BATCH", default=60),
    "MAX_FRAME_BYTES": env.int("MAX_FRAME_BYTES", default=2 * 1024 * 1024),
    "MAX_FRAME_PIXELS": env.int("MAX_FRAME_PIXELS", default=3840 * 2160),
    # Decode bound (docs/security.md): each JPEG scan is a pass of the decoder over the whole frame.
    # A camera writes 1 (baseline); libjpeg's progressive script (Pillow, OpenCV) 10 for colour, 6 for grey.
    "MAX_JPEG_SCANS": env.int("MAX_JPEG_SCANS", default=16),
    # A PNG cannot be decoded at reduced scale, and a flat one compresses ~1000:1: its pixels and the
    # bytes its data inflate to are bounded apart. 2560x1440 and 1170x2532 screenshots pass, in RGBA.
    "MAX_PNG_PIXELS": env.int("MAX_PNG_PIXELS", default=2 * 1920 * 1080),
    "MAX_PNG_DECODED_BYTES": env.int("MAX_PNG_DECODED_BYTES", default=16 * 1024 * 1024),
    "MAX_FUTURE_SKEW": timedelta(seconds=env.int("MAX_FUTURE_SKEW_SECONDS", default=5 * 60)),
    "MAX_FRAME_AGE": timedelta(hours=env.int("MAX_FRAME_AGE_HOURS", default=7 * 24)),
    "ENROLLMENT_CODE_TTL": timedelta(days=env.int("ENROLLMENT_CODE_TTL_DAYS", default=7)),
    # 0 = frames are deleted in the same transaction that stores their mood records.
    "FRAME_RETENTION": timedelta(hours=env.int("FRAME_RETENTION_HOURS", default=0)),
    # The sweeper re-enqueues batches stuck this long in queued / processing ...
    "QUEUED_TIMEOUT": timedelta(seconds=env.int("BATCH_QUEUED_TIMEOUT_SECONDS", default=5 * 60)),
    "PROCESSING_TIMEOUT": timedelta(seconds=env.int("BATCH_PROCESSING_TIMEOUT_SECONDS", default=10 * 60)),
    # ... and marks a batch failed after this many processing attempts.
    "MAX_PROCESSING_ATTEMPTS": env.int("BATCH_MAX_PROCESSING_ATTEMPTS", default=5),
    # Frames one device may upload per hour (0: no limit). A phone at 1 frame/s sends 3,600; this leaves
    # room for a phone catching up hours offline, and bounds the worker CPU one device can claim.
    "DEVICE_FRAME_BUDGET_PER_HOUR": env.int("DEVICE_FRAME_BUDGET_PER_HOUR", default=20_000),
    # Seconds between two frames a phone samples in a check-in (the model manifest tells the app).
    # A patient's own rate (Patient.sampling_seconds, set by their clinician) replaces it for that patient.
    "DEVICE_SAMPLING_SECONDS": env.float("DEVICE_SAMPLING_SECONDS", default=1.0),
    # Bounds of a patient's own rate, in whole seconds (contract bounds, not tunables): the app samples
    # at most once a second, and a rate above an hour would leave a check-in without a single sample.
    "MIN_SAMPLING_SECONDS": 1,
    "MAX_SAMPLING_SECONDS": 3600,
    # last_seen is refreshed at most this often, so authentication is not a write per request.
    "DEVICE_LAST_SEEN_RESOLUTION": timedelta(seconds=env.int("DEVICE_LAST_SEEN_RESOLUTION_SECONDS", default=60)),
    # Empty: the model committed under inference/models/. Set to deploy another .tflite (+ model card).
    "MODEL_PATH": env.str("MOOD_MODEL_PATH", default=""),
    # Real face photos used by tests, demos and benchmarks (never downloaded at run time).
    "SAMPLE_IMAGES_DIR": env.path("MOODWATCH_SAMPLE_IMAGES_DIR", default=str(BASE_DIR.parent / "shared" / "images")),
    # FER2013 test faces (one folder per emotion) that the `make run` demo replays as two weeks of frames.
    "DEMO_FACES_DIR": env.path(
        "MOODWATCH_DEMO_FACES_DIR", default=str(BASE_DIR.parent / "shared" / "datasets" / "fer2013" / "test")
    ),
}
# Any request body above this is refused (413) from its Content-Length before it is read.
# 60 phone frames are a few MB; the per-frame limit alone would let through MAX_FRAMES x MAX_FRAME_BYTES.
MOODWATCH["MAX_REQUEST_BYTES"] = env.int("MAX_REQUEST_BYTES", default=32 * 1024 * 1024)
# A JSON body nested deeper than this is a 400 (backend.core.parsers); ours nest two or three levels.
MOODWATCH["JSON_MAX_DEPTH"] = env.int("JSON_MAX_DEPTH", default=32)
# Mood batches (POST /api/v1/mood-batches/, computed on the phone): bounds of the contract, not tunables.
# A frame's side in pixels (a 16K camera is absurd), the faces a frame may hold besides the patient's,
# and the body's size: an entry is about 250 bytes, so 2 KiB an entry is far above any honest batch.
MOODWATCH["MAX_MOOD_FRAME_SIDE"] = 16_384
MOODWATCH["MAX_BYSTANDERS"] = 100
MOODWATCH["MAX_MOOD_BATCH_BYTES"] = 4096 + 2048 * MOODWATCH["MAX_FRAMES_PER_BATCH"]
# Uploaded frames are read into memory up to the frame limit; bigger ones spill to temp files.
FILE_UPLOAD_MAX_MEMORY_SIZE = MOODWATCH["MAX_FRAME_BYTES"]
# Let a few more files than the frame limit through Django's parser, so an over-long batch
# gets our JSON "too_many_frames" error instead of Django's generic TooManyFilesSent.
DATA_UPLOAD_MAX_NUMBER_FILES = MOODWATCH["MAX_FRAMES_PER_BATCH"] * 2 + 10
DATA_UPLOAD_MAX_NUMBER_FIELDS = MOODWATCH["MAX_FRAMES_PER_BATCH"] * 2 + 100

# --- REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: DRF takes the first class's WWW-Authenticate, so a missing or bad credential is a
    # 401 (as for devices), not a 403 that reads like "you may not".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.clinician_api.authentication.ApiTokenAuthentication",  # digests only, not DRF's clear keys
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "backend.core.parsers.BoundedJSONParser",  # DRF's, with the nesting depth bounded
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "backend.core.exceptions.api_exception_handler",
    # ASCII-only JSON (non-ASCII as \u escapes): a lone surrogate read from a request ("\ud800" is valid
    # JSON text) and echoed in an error cannot be encoded as UTF-8, which made that answer a 500.
    "UNICODE_JSON": False,
    "DEFAULT_RENDERER_CLASSES": (
        ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"]
        if DEBUG
        else ["rest_framework.renderers.JSONRenderer"]
    ),
    "DEFAULT_THROTTLE_RATES": {
        # Enrollment codes are short enough to type: throttle guessing.
        "enroll": env.str("ENROLL_THROTTLE_RATE", default="20/hour"),
        # Per device token: far above a phone's pace (a batch every few seconds at most), so a
        # stolen or runaway token cannot flood the workers.
        "upload": env.str("UPLOAD_THROTTLE_RATE", default="120/minute"),
        # Failed logins per client address, on every login form (dashboard, API, admin).
        "login": env.str("LOGIN_THROTTLE_RATE", default="30/hour"),
    },
    # Throttles key on the client address: REMOTE_ADDR, or behind N trusted proxies the Nth
    # X-Forwarded-For entry from the right. Never the whole header, which the client can vary at will.
    "NUM_PROXIES": env.int("AUDIT_TRUSTED_PROXY_COUNT", default=0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MoodWatch API",
    "DESCRIPTION": "Device upload API and clinician read API, version 1.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from the sidecar package's static files, not a CDN (offline clinics, CSP 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.core.schema.add_platform_error_responses",
    ],
    # The inference mode appears in the patient API and in the model manifest: one enum, one name.
    "ENUM_NAME_OVERRIDES": {"InferenceModeEnum": "backend.patients.models.InferenceMode"},
}

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# No broker: run tasks in process so the embedded default works with nothing else running.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None  # results live in the database (FrameBatch), not in Celery
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A killed worker's message goes back to the queue and is finished once (claims + unique keys).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Celery's Django fix-up would close the database connection around every task; backend/celery.py
# applies CONN_MAX_AGE instead, and the fix-up only recycles after this many tasks.
CELERY_DB_REUSE_MAX = 1000
# Every task has a soft and a hard time limit (the decode bound, docs/security.md). At the soft one
# SoftTimeLimitExceeded is raised in the task: a batch is then failed with error `time_limit_exceeded`,
# not retried. At the hard one the pool kills the child, and the batch is failed the same way. A batch
# of 60 of the costliest frames the upload check accepts took 17-18 s of decoding; keep the hard limit
# below BATCH_PROCESSING_TIMEOUT_SECONDS, or a second worker would claim a batch still running. The
# publisher writes the limits into each message: web processes and workers must have the same ones.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=150)
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="moodwatch")
# Inference (process_batch) on a queue of its own, so frames never delay the housekeeping tasks
# (sweeper, alerts, roll-ups) that stay on CELERY_QUEUE. Empty: "<CELERY_QUEUE>-inference", derived
# when a task is sent (backend.celery.task_route), so a process that changes its default queue (the
# tests' private-queue workers) moves both. Set it to CELERY_QUEUE's value for a single queue.
MOODWATCH_INFERENCE_QUEUE = env.str("CELERY_INFERENCE_QUEUE", default="")
CELERY_TASK_ROUTES = ("backend.celery.task_route",)
# A worker started without --queues reads both (docker-compose.yml's worker). Redis serves the queues
# a worker reads in turn, and the inference queue holds at most one message per device (see
# batch_dispatch in backend/ingest/services.py), so housekeeping waits for one batch at most.
# Each queue has its own exchange and routing key, as Celery gives a queue it creates on the fly:
# with Celery's defaults filled in, both would share one routing key and a message would reach both.
_worker_queues = [CELERY_TASK_DEFAULT_QUEUE, MOODWATCH_INFERENCE_QUEUE or f"{CELERY_TASK_DEFAULT_QUEUE}-inference"]
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in dict.fromkeys(_worker_queues)]
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-batches": {
        "task": "backend.ingest.tasks.sweep_batches",
        "schedule": env.int("SWEEP_INTERVAL_SECONDS", default=60),
    },
}

# --- alerts and audit (dashboard) ---------------------------------------------------------------------
# Each threshold from ALERT_<NAME>, written out so that operators (and the configuration tests) find
# the variable; the Thresholds dataclass refuses a missing or unknown name.
_ALERT_THRESHOLDS = Thresholds(
    window_days=env.int("ALERT_WINDOW_DAYS", default=3),
    negative_share=env.float("ALERT_NEGATIVE_SHARE", default=0.6),
    min_records=env.int("ALERT_MIN_RECORDS", default=50),
    no_data_days=env.int("ALERT_NO_DATA_DAYS", default=2),
)
if _problems := thresholds_problems(_ALERT_THRESHOLDS):  # the bounds a clinician's override must keep too
    raise ImproperlyConfigured("ALERT_<NAME> out of bounds: " + "; ".join(_problems))
# The negative-mood rule of patients who have not chosen one: "baseline" (the patient's own
# baseline, alerts.rules) or "absolute" (the negative share against ALERT_NEGATIVE_SHARE).
_ALERT_RULE = env.str("ALERT_RULE", default="baseline")
if _ALERT_RULE not in RULES:
    raise ImproperlyConfigured(f"ALERT_RULE must be one of {', '.join(RULES)}, not {_ALERT_RULE!r}")
MOODWATCH_ALERTS = {
    **{name.upper(): value for name, value in _ALERT_THRESHOLDS.as_dict().items()},
    "RULE": _ALERT_RULE,
    # After a batch lands its patient's rules are evaluated once the quiet period has passed, so a
    # phone uploading a backlog triggers one evaluation, not one per batch. Tasks in process: at once.
    "LANDING_DEBOUNCE_SECONDS": env.int(
        "ALERT_LANDING_DEBOUNCE_SECONDS", default=0 if CELERY_TASK_ALWAYS_EAGER else 30
    ),
    "NOTIFY_MAX_ATTEMPTS": env.int("ALERT_NOTIFY_MAX_ATTEMPTS", default=5),
}
# The beat schedule also runs inside the web process of the embedded default (demo_run sets this),
# where no beat is running: backend.core.scheduler.
MOODWATCH_EMBEDDED_SCHEDULER = env.bool("MOODWATCH_EMBEDDED_SCHEDULER", default=False)
# --- e-mail (alert notifications): EMAIL_URL such as smtp+tls://user:password@host:587 ----------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MoodWatch <moodwatch@localhost>")
# The site's public address (https://moodwatch.hospital.example): the link in alert e-mails and the
# patient app's enrollment link (<address>/app/#enroll=<code>). Empty: pages use the address they
# were opened at, e-mails carry the path only (`make run` sets it to its server's address).
MOODWATCH_PUBLIC_URL = env.str("MOODWATCH_PUBLIC_URL", default="").rstrip("/")
CELERY_BEAT_SCHEDULE["evaluate-alerts"] = {
    "task": "backend.alerts.tasks.evaluate_alerts",
    "schedule": env.int("ALERT_EVALUATION_INTERVAL_SECONDS", default=15 * 60),
}
CELERY_BEAT_SCHEDULE["refresh-mood-rollups"] = {
    "task": "backend.rollups.tasks.refresh_rollups",
    "schedule": env.int("ROLLUP_REFRESH_INTERVAL_SECONDS", default=60),
}
MOODWATCH_AUDIT = {
    # Behind N reverse proxies the client address is the Nth X-Forwarded-For entry from the right.
    "TRUSTED_PROXY_COUNT": env.int("AUDIT_TRUSTED_PROXY_COUNT", default=0),
}
# --- login lockout (django-axes): repeated failed logins lock the account for a while -------------------
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# The pair, not the username alone: an attacker elsewhere cannot lock a clinician out of his own
# address. Guessing from many addresses meets LOGIN_THROTTLE_RATE per address (backend/core/throttling.py).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # attempts during a lock do not extend it
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failed attempt is kept (admin: "Access failures")
AXES_LOCKOUT_CALLABLE = "backend.core.throttling.login_lockout_response"
AXES_CLIENT_IP_CALLABLE = "backend.audit.services.client_ip"  # same trusted-proxy rule as the audit log
AXES_USERNAME_CALLABLE = "backend.core.throttling.axes_username"  # bounded to axes' 255-character column
AXES_WHITELIST_CALLABLE = "backend.core.throttling.login_from_trusted_device"  # device cookies: own limit
AXES_VERBOSE = False
# Device cookies (OWASP): a browser that logged in as a user may keep trying as that user when its
# address is throttled or its (username, address) pair is locked.
LOGIN_DEVICE_COOKIE_NAME = "moodwatch_device"
LOGIN_DEVICE_COOKIE_AGE = env.int("LOGIN_DEVICE_COOKIE_DAYS", default=180) * 24 * 3600

# --- second factor (django-otp): TOTP authenticator app + one-time recovery codes -----------------------
# Required of every account (clinicians and staff) in production, where it cannot be switched off;
# elsewhere off by default, so `make run`'s DEMO login stays one step. An account that enrolled a
# device is asked for a code wherever it logs in (backend/twofactor/services.py).
MOODWATCH_REQUIRE_2FA = env.bool("MOODWATCH_REQUIRE_2FA", default=PRODUCTION)
if DJANGO_ENV == "production" and not MOODWATCH_REQUIRE_2FA:
    raise ImproperlyConfigured("MOODWATCH_REQUIRE_2FA cannot be off when DJANGO_ENV=production")
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="MoodWatch")  # the name shown in the authenticator app
MOODWATCH_RECOVERY_CODES = 10  # one-time recovery codes issued at enrolment

MOODWATCH_FHIR = {
    # The system URI of the pseudonymous patient reference in exported FHIR resources.
    "PATIENT_IDENTIFIER_SYSTEM": env.str("FHIR_PATIENT_IDENTIFIER_SYSTEM", default="urn:moodwatch:patient-reference"),
}

# --- metrics (Prometheus) -----------------------------------------------------------------------------
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; empty: /metrics does not exist (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# A Celery worker exports its own metrics on this port (same token); 0: it does not.
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
# prometheus-client's multiprocess folder: gunicorn.conf.py sets one for web; set it for a worker that
# exports metrics, so its pool's processes are added up. Empty: one process, values in memory.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# --- logging --------------------------------------------------------------------------------------
# One JSON object a line on stderr (backend/core/logs.py), with the request id, secrets redacted.
# LOG_FORMAT=plain: the same lines as readable text, for a developer's terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "backend.core.logs.RequestIdFilter"},
        "redact": {"()": "backend.core.logs.RedactFilter"},
    },
    "formatters": {
        "json": {"()": "backend.core.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id", "redact"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},  # never SQL with its parameters (names, notes)
        # runserver's own access line carries the raw path and query: the request metrics count requests.
        "django.server": {"level": "WARNING"},
    },
}
# The worker logs through LOGGING too (backend.celery connects setup_logging), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
