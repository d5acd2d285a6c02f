"""Tests: a fixed key, fast password hashing, a throw-away SQLite file per process."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from webapp.config.settings.base import *  # noqa: F403
from webapp.config.settings.base import DATABASES, USP

SECRET_KEY = "usp-test-key-not-for-production"  # noqa: S105
STATIC_ROOT = Path(tempfile.gettempdir()) / "usp-webapp-test-static"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# No API throttling unless a test sets the rates it checks (settings.USP): long tests
# make many requests as one user.
USP = dataclasses.replace(USP, throttle_uploads=None, throttle_api=None)

# A file rather than SQLite's shared in-memory database: threads in a test (the event
# consumer, the gRPC API) then get real locking and WAL instead of table locks.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _TEST_DB = Path(tempfile.gettempdir()) / f"usp-webapp-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["NAME"] = str(_TEST_DB)
    DATABASES["default"]["TEST"] = {"NAME": str(_TEST_DB)}
