from __future__ import annotations

from webapp.files.tests.fixtures import *  # noqa: F403
from webapp.pages.tests.browser import (  # noqa: F401 - fixtures, used by name
    base_url,
    signed_in_browser,
)
