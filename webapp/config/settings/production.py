"""Production: the secret key must come from the environment; cookies follow the
scheme of the public URL."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from webapp.config.settings.base import *  # noqa: F403
from webapp.config.settings.base import USP

if not USP.secret_key:
    raise ImproperlyConfigured(
        "USP_SECRET_KEY must be set in production: a long random string, for example "
        "the output of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
SECRET_KEY = USP.secret_key
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
_HTTPS = USP.public_url.startswith("https://")
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
