"""Fixtures every webapp test module can use."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from webapp.accounts.models import User
from webapp.accounts.tests.factories import user_make


@pytest.fixture
def user(db: None) -> User:
    return user_make(username="alice")


@pytest.fixture
def other_user(db: None) -> User:
    return user_make(username="mallory")


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with no rate-limit or throttle counts from earlier tests."""
    cache.clear()
