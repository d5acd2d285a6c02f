from __future__ import annotations

import pytest
from django.test import Client

from webapp.accounts.models import User
from webapp.files.tests.fixtures import *  # noqa: F403
from webapp.pages.tests.browser import (  # noqa: F401 - fixtures, used by name
    base_url,
    browser_page,
    signed_in_browser,
    storage_system,
)


@pytest.fixture
def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client
