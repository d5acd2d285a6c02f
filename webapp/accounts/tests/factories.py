"""Users and tokens for tests."""

from __future__ import annotations

import itertools
from typing import Any

from webapp.accounts.models import User
from webapp.accounts.services import api_token_create

_numbers = itertools.count(1)


def user_make(*, username: str | None = None, **fields: Any) -> User:
    number = next(_numbers)
    username = username or f"user{number}"
    fields.setdefault("email", f"{username}@example.com")
    return User.objects.create_user(username=username, password="pw-12345678", **fields)


def token_make(user: User, name: str = "test") -> str:
    _token, key = api_token_create(user=user, name=name)
    return key
