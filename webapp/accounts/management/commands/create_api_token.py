"""`create_api_token USERNAME [--name NAME]`: prints a new API key on its last line."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webapp.accounts.models import User
from webapp.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user (by username or e-mail); prints the key last."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the user's username or e-mail address")
        parser.add_argument("--name", default="cli", help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = _find_user(options["username"])
        token, key = api_token_create(user=user, name=options["name"])
        self.stdout.write(
            f"Created API token {token.name!r} for {user.get_username()}; it is shown only once:"
        )
        self.stdout.write(key)


def _find_user(identifier: str) -> User:
    user = User.objects.filter(username=identifier).first()
    if user is None:
        user = User.objects.filter(email__iexact=identifier).order_by("pk").first()
    if user is None:
        raise CommandError(f"no user with username or e-mail {identifier!r}")
    return user
