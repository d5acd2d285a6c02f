"""Signed links to stored bytes: capabilities that name one file's original or one of its
derivatives, for one owner, until a moment.

Whoever holds a link may read those bytes until it expires, with no session or token, so
a link lives only minutes. It is signed with the site's secret key (and its fallbacks,
for rotation) under a salt of its own: no other value the site signs is accepted as one.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.core import signing

from webapp.core.errors import ApplicationError

SALT = "webapp.usercontent.content-link"


class LinkInvalid(ApplicationError):
    """Not a link this site signed, or one changed since."""

    default_code = "invalid_link"
    default_http_status = 403


class LinkExpired(ApplicationError):
    """A genuine link whose time is over: the site hands out a fresh one."""

    default_code = "link_expired"
    default_http_status = 410


@dataclass(frozen=True)
class Capability:
    """Read access to `file_id`'s bytes (kind "") or its `kind` derivative, for the file
    as long as `owner_id` owns it, until `expires_at` (Unix seconds)."""

    file_id: uuid.UUID
    kind: str
    owner_id: int
    expires_at: int


def capability_issue(
    *, file_id: uuid.UUID, kind: str, owner_id: int, lifetime: int, now: float
) -> Capability:
    """A capability living at least `lifetime` seconds from `now`.

    The expiry is rounded up to a fifth of the lifetime, so links issued close together
    are the same link: a page that renders again keeps its images (and their cache).
    """
    step = max(1, lifetime // 5)
    expires_at = math.ceil((now + lifetime) / step) * step
    return Capability(file_id=file_id, kind=kind, owner_id=owner_id, expires_at=expires_at)


def capability_sign(*, capability: Capability) -> str:
    """The URL-safe token for a capability."""
    payload = {
        "f": str(capability.file_id),
        "k": capability.kind,
        "o": capability.owner_id,
        "e": capability.expires_at,
    }
    return signing.Signer(salt=SALT).sign_object(payload)


def capability_verify(*, token: str, now: float) -> Capability:
    """The capability a token carries; LinkInvalid when the site did not sign it as it
    is, LinkExpired when it is genuine but past its expiry."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError) as exc:
        raise LinkInvalid("This link is not valid.") from exc
    capability = _capability(payload)
    if now >= capability.expires_at:
        raise LinkExpired("This link has expired; open the file again for a fresh one.")
    return capability


def _capability(payload: Any) -> Capability:
    try:
        return Capability(
            file_id=uuid.UUID(payload["f"]),
            kind=_text(payload["k"]),
            owner_id=_number(payload["o"]),
            expires_at=_number(payload["e"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        # Signed by this site but not as a link: a bug, or a reused salt.
        raise LinkInvalid("This link is not valid.") from exc


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _number(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not a whole number")
    return value
