"""Signed links: what they bind, how long they live, what a change to them does."""

from __future__ import annotations

import uuid

import pytest
from django.core import signing

from webapp.usercontent.signing import (
    SALT,
    Capability,
    LinkExpired,
    LinkInvalid,
    capability_issue,
    capability_sign,
    capability_verify,
)

FILE_ID = uuid.UUID("6f1c1d1e-8a55-4f39-9d43-0d7a3b4c5e6f")
NOW = 1_800_000_010.0


def issued(**changes: object) -> Capability:
    fields: dict[str, object] = {
        "file_id": FILE_ID,
        "kind": "thumbnail-256",
        "owner_id": 7,
        "lifetime": 300,
        "now": NOW,
    }
    fields.update(changes)
    return capability_issue(**fields)  # type: ignore[arg-type]


def test_a_signed_capability_verifies_as_itself_until_it_expires() -> None:
    capability = issued()
    token = capability_sign(capability=capability)

    assert capability_verify(token=token, now=NOW) == capability
    assert capability_verify(token=token, now=capability.expires_at - 1) == capability
    with pytest.raises(LinkExpired) as expired:
        capability_verify(token=token, now=capability.expires_at)
    assert (expired.value.code, expired.value.http_status) == ("link_expired", 410)


def test_a_link_lives_its_lifetime_and_at_most_a_fifth_more() -> None:
    lifetimes = [issued(now=NOW + offset).expires_at - (NOW + offset) for offset in range(120)]

    assert min(lifetimes) >= 300
    assert max(lifetimes) < 360


def test_links_issued_within_the_same_fifth_of_a_lifetime_are_the_same_link() -> None:
    first = capability_sign(capability=issued(now=NOW))
    again = capability_sign(capability=issued(now=NOW + 30))
    later = capability_sign(capability=issued(now=NOW + 60))

    assert first == again
    assert later != first


@pytest.mark.parametrize(
    "change",
    [
        {"file_id": uuid.UUID(int=1)},
        {"kind": ""},
        {"kind": "thumbnail-1024"},
        {"owner_id": 8},
        {"lifetime": 3000},
    ],
)
def test_a_link_binds_the_file_kind_owner_and_expiry(change: dict[str, object]) -> None:
    assert capability_sign(capability=issued(**change)) != capability_sign(capability=issued())


def test_a_payload_swapped_under_a_genuine_signature_is_refused() -> None:
    genuine = capability_sign(capability=issued())
    forged_payload = capability_sign(capability=issued(owner_id=8)).split(":")[0]
    tampered = forged_payload + ":" + genuine.split(":")[1]

    with pytest.raises(LinkInvalid) as refused:
        capability_verify(token=tampered, now=NOW)
    assert (refused.value.code, refused.value.http_status) == ("invalid_link", 403)


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a:b", "eyJmIjoiMSJ9:" + "A" * 43],
)
def test_anything_the_site_did_not_sign_is_refused(token: str) -> None:
    with pytest.raises(LinkInvalid):
        capability_verify(token=token, now=NOW)


def test_a_value_the_site_signed_for_another_purpose_is_not_a_link() -> None:
    payload = {"f": str(FILE_ID), "k": "", "o": 7, "e": int(NOW) + 300}
    other_salt = signing.Signer(salt="webapp.something-else").sign_object(payload)
    no_salt = signing.dumps(payload)

    for token in (other_salt, no_salt):
        with pytest.raises(LinkInvalid):
            capability_verify(token=token, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        {"f": "not-a-uuid", "k": "", "o": 7, "e": 1},
        {"f": str(FILE_ID), "k": 3, "o": 7, "e": 1},
        {"f": str(FILE_ID), "k": "", "o": "7", "e": 1},
        {"f": str(FILE_ID), "k": "", "o": 7},
        ["not", "an", "object"],
    ],
)
def test_a_signed_value_that_is_not_a_capability_is_refused(payload: object) -> None:
    token = signing.Signer(salt=SALT).sign_object(payload)

    with pytest.raises(LinkInvalid):
        capability_verify(token=token, now=0)


def test_a_link_signed_with_a_retired_key_still_verifies_during_rotation(settings: object) -> None:
    token = capability_sign(capability=issued())
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]  # type: ignore[attr-defined]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50  # type: ignore[attr-defined]

    assert capability_verify(token=token, now=NOW) == issued()
