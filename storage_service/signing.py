"""Signed upload locations: HMAC-SHA256 over a session's id, owner, size and expiry.

The signature and the key id that made it travel in the URL's query string:

    <public_url>/uploads/<session_id>?owner=<owner>&size=<bytes>&expires=<unix>&kid=<id>&sig=<b64>

The first configured key signs; every configured key verifies, so keys rotate by adding
the new key first and removing the old one once its URLs have expired. Signatures are
compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from storage_service.errors import Forbidden
from storage_service.settings import SigningKey

_PURPOSE = "usp-upload-location-v1"


@dataclass(frozen=True)
class UploadClaims:
    """What an upload location grants: bytes for one session, up to a size, until a time."""

    session_id: str
    owner_id: str
    max_size: int
    expires_at: int  # Unix seconds


@dataclass(frozen=True)
class SignedLocation:
    claims: UploadClaims
    key_id: str
    signature: str


def _message(claims: UploadClaims) -> bytes:
    # JSON keeps the fields unambiguous whatever characters an owner id contains.
    fields = [_PURPOSE, claims.session_id, claims.owner_id, claims.max_size, claims.expires_at]
    return json.dumps(fields, separators=(",", ":")).encode()


def _digest(secret: bytes, claims: UploadClaims) -> bytes:
    return hmac.new(secret, _message(claims), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Forbidden("the upload location's signature is malformed") from exc


class Signer:
    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        self._signing_key = keys[0]
        self._keys = {key.key_id: key.secret for key in keys}

    def sign(self, claims: UploadClaims) -> SignedLocation:
        signature = _digest(self._signing_key.secret, claims)
        return SignedLocation(claims, self._signing_key.key_id, _b64(signature))

    def verify(self, location: SignedLocation) -> UploadClaims:
        """The claims when the signature is valid; Forbidden otherwise."""
        secret = self._keys.get(location.key_id)
        if secret is None:
            raise Forbidden("the upload location is signed with an unknown key")
        expected = _digest(secret, location.claims)
        if not hmac.compare_digest(expected, _unb64(location.signature)):
            raise Forbidden("the upload location's signature does not match")
        return location.claims


def to_query(location: SignedLocation) -> str:
    claims = location.claims
    return urlencode(
        {
            "owner": claims.owner_id,
            "size": str(claims.max_size),
            "expires": str(claims.expires_at),
            "kid": location.key_id,
            "sig": location.signature,
        }
    )


def from_query(session_id: str, query: Mapping[str, str]) -> SignedLocation:
    """Read a location back from its query parameters; Forbidden when any is missing."""
    try:
        claims = UploadClaims(
            session_id=session_id,
            owner_id=query["owner"],
            max_size=int(query["size"]),
            expires_at=int(query["expires"]),
        )
        return SignedLocation(claims, query["kid"], query["sig"])
    except (KeyError, ValueError) as exc:
        raise Forbidden("the upload location is not signed") from exc
