"""The WSGI application (served by waitress in every deployment)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.config.settings.local")

application = get_wsgi_application()
