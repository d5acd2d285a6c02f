"""DRF authentication with the personal API tokens."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from webapp.accounts.models import User
from webapp.accounts.services import AUTHORIZATION_SCHEMES, api_token_authenticate


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Accepts `Authorization: Token <key>` and `Authorization: Bearer <key>`.

    Another scheme is left to the next authenticator; a bad key is a 401.
    """

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in AUTHORIZATION_SCHEMES:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: send 'Token <key>'."
            )
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The token is not valid.") from exc
        user = api_token_authenticate(key=key)
        if user is None:
            raise exceptions.AuthenticationFailed("The token is not valid, expired or revoked.")
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
