"""Development and the embedded default run: debug pages, e-mails on the console
unless USP_EMAIL_URL names a mail server."""

from __future__ import annotations

from webapp.config.settings.base import *  # noqa: F403
from webapp.config.settings.base import USP

DEBUG = True
# A fixed key is fine here: local sessions protect nothing of value.
SECRET_KEY = USP.secret_key or "usp-local-development-key-not-for-production"
if USP.email is None:
    # Without USP_EMAIL_URL, verification and password-reset mails are printed.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
