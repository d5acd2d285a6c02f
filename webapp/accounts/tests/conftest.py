from __future__ import annotations

from webapp.files.tests.fixtures import *  # noqa: F403
