"""Settings shared by every deployment of the webapp (the API service).

Values that differ between deployments come from the environment, parsed once by
`webapp.config.env.load_env` and kept whole in `USP`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

from webapp.config.env import MailServer, load_env

USP = load_env()

WEBAPP_DIR = Path(__file__).resolve().parents[2]

SECRET_KEY = USP.secret_key
DEBUG = False
# The user-content host is served too, by its own URLconf (webapp.usercontent).
ALLOWED_HOSTS = [*USP.allowed_hosts, *([USP.usercontent_host] if USP.usercontent_host else [])]

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
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "webapp.core",
    "webapp.accounts",
    "webapp.files",
    "webapp.pages",
    "webapp.apigrpc",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Requests to the user-content host stop here: nothing below (static files, sessions,
    # CSRF, authentication) ever sees them.
    "webapp.usercontent.middleware.UserContentHostMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.core.middleware.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "webapp.config.urls"
WSGI_APPLICATION = "webapp.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [WEBAPP_DIR / "templates"],
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


def database_settings(url: str) -> dict[str, Any]:
    """Django's database dict for a URL: each thread keeps its connection for a minute
    (opening one costs about a millisecond of CPU even on SQLite), checked before reuse;
    SQLite gets WAL and a lock timeout so the request threads, the event consumer and
    the gRPC API can share it."""
    database: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    )
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return database


DATABASES = {"default": database_settings(USP.database_url)}


def cache_settings(url: str) -> dict[str, Any]:
    """Django's CACHES: this process's memory, or the Redis of `url` shared by every
    webapp process (rate limits then hold across them)."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "usp",
            # A Redis that hangs fails the request in seconds instead of holding it.
            "OPTIONS": {"socket_connect_timeout": 5, "socket_timeout": 5},
        }
    }


CACHES = cache_settings(USP.cache_url)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = USP.account_email_verification
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "webapp.accounts.adapter.AccountAdapter"
# allauth's defaults, written out because they are the site's guard against password
# guessing: per client address (REMOTE_ADDR; see USP_TRUST_PROXY) and per account or
# e-mail address. Counted in CACHES.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}

LOCAL_MAIL_SERVER = MailServer(host="localhost", port=25)


def email_settings(server: MailServer) -> dict[str, Any]:
    """Django's EMAIL_* settings that deliver through `server` over SMTP."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": server.host,
        "EMAIL_PORT": server.port,
        "EMAIL_HOST_USER": server.username,
        "EMAIL_HOST_PASSWORD": server.password,
        "EMAIL_USE_TLS": server.starttls,
        "EMAIL_USE_SSL": server.implicit_tls,
        "EMAIL_TIMEOUT": server.timeout,
    }


# Mail goes to USP_EMAIL_URL's server, else to the host's own mail server on port 25
# (the usual relay of a server); local.py prints it on the console instead.
vars().update(email_settings(USP.email or LOCAL_MAIL_SERVER))
DEFAULT_FROM_EMAIL = USP.email_from
SERVER_EMAIL = USP.email_from

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = USP.data_dir / "static"
# Static files are served by WhiteNoise straight from the apps, so the embedded run
# needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Uploads above this size spool to a temporary file: memory stays flat.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Pages load from this origin only and send upload bytes to the storage data plane
# (webapp.core.middleware). Third-party API pages (Swagger UI, DRF's browsable API) carry
# inline styles; scripts stay strict (Swagger UI's start-up script is served as a file).
USP_CSP_INLINE_STYLE_PATHS = ("/api/",)
CSRF_TRUSTED_ORIGINS = [USP.public_url] if USP.public_url else []

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webapp.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "webapp.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "webapp.core.exception_handler.exception_handler",
    # OPTIONS of a route naming an object answers its owner only (404 for anyone else).
    "DEFAULT_METADATA_CLASS": "webapp.files.metadata.OwnerMetadata",
    # Per user (anonymous: per REMOTE_ADDR) and scope; rates from USP_THROTTLE_*.
    "DEFAULT_THROTTLE_CLASSES": ["webapp.core.throttling.UserRateThrottle"],
    # The client address is REMOTE_ADDR: the web server has already replaced it with
    # X-Forwarded-For's when USP_TRUST_PROXY says a proxy sets that header.
    "NUM_PROXIES": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "upload-store-process API",
    "DESCRIPTION": "Upload files, follow their processing and download them and their "
    "derivatives. Authenticate with a session or `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webapp.core.schema.document_throttling",
    ],
}

# Logging goes through the shared one-line key=value format of every service.
LOGGING_CONFIG = "webapp.config.logging.configure_logging"
# Django calls LOGGING_CONFIG only when LOGGING is not empty.
LOGGING: dict[str, Any] = {"version": 1}
