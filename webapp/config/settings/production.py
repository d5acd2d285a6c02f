"""Production: HTTPS only, the secret key from the environment, and settings that pass
`manage.py check --deploy` without warnings.

Behind a TLS-terminating proxy set USP_TRUST_PROXY=true so X-Forwarded-Proto counts;
USP_SECURE_SSL_REDIRECT=false leaves redirecting plain HTTP to that proxy.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from webapp.config.settings.base import *  # noqa: F403
from webapp.config.settings.base import USP

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 5
_KEY_ADVICE = (
    "a random string of at least 50 characters, for example the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
)


def production_secret_key(value: str) -> str:
    """The secret key, or ImproperlyConfigured naming USP_SECRET_KEY when it is weak."""
    if not value:
        raise ImproperlyConfigured(f"USP_SECRET_KEY must be set in production: {_KEY_ADVICE}")
    if len(value) < MIN_SECRET_KEY_LENGTH or len(set(value)) < MIN_SECRET_KEY_CHARACTERS:
        raise ImproperlyConfigured(f"USP_SECRET_KEY is too short or too simple: {_KEY_ADVICE}")
    if value.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            f"USP_SECRET_KEY must not be a generated development key: {_KEY_ADVICE}"
        )
    return value


SECRET_KEY = production_secret_key(USP.secret_key)
DEBUG = False

SECURE_SSL_REDIRECT = USP.secure_ssl_redirect
# Probes from inside the deployment speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if USP.trust_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
