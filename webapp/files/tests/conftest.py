from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from webapp.accounts.models import User
from webapp.accounts.tests.factories import token_make
from webapp.files.tests.fixtures import *  # noqa: F403


@pytest.fixture
def api_client(user: User) -> APIClient:
    """A client authenticated the way programs are: with an API token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_make(user)}")
    return client
