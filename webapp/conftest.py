"""Fixtures every webapp test module can use."""

from __future__ import annotations

import pytest

from webapp.accounts.models import User
from webapp.accounts.tests.factories import user_make


@pytest.fixture
def user(db: None) -> User:
    return user_make(username="alice")


@pytest.fixture
def other_user(db: None) -> User:
    return user_make(username="mallory")
