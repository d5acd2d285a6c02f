from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make
from webapp.files.tests.fixtures import *  # noqa: F403
from webapp.pages.tests.browser import (  # noqa: F401 - fixtures, used by name
    base_url,
    signed_in_browser,
    storage_system,
)

ORIGIN = "https://usercontent.test"
HOST = "usercontent.test"


@pytest.fixture
def usercontent(settings: Any) -> str:
    """A separate user-content origin, configured as USP_USERCONTENT_ORIGIN would:
    settings.USP names it and ALLOWED_HOSTS admits its host."""
    settings.USP = dataclasses.replace(settings.USP, usercontent_origin=ORIGIN)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    return ORIGIN


@pytest.fixture
def api_client(user: User) -> APIClient:
    """A client authenticated the way programs are: with an API token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_make(user)}")
    return client
