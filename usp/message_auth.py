"""Authentication of what travels through the broker: job messages and lifecycle events.

Anyone who can publish on RabbitMQ could otherwise make the processor run a step or
make the webapp believe a job finished. Producers sign with a key derived from the
service token; consumers verify before acting and drop what fails, logging why but
never the key:

- a Dramatiq job message carries `options["usp_signature"]`, an HMAC-SHA256 over its
  actor, (canonical) queue, arguments and message id; the processor checks it with
  `message_is_authentic` in a middleware before the actor runs;
- an event carries the `usp-signature` header, an HMAC-SHA256 over its body (the
  envelope, which names the event type, file, job and sequence); `event_is_authentic`
  is the check the event consumer makes.

Signatures survive Dramatiq's retries and delays, which copy a message's options and
keep its id, arguments and canonical queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the webapp verifies events without having Dramatiq installed
    import dramatiq

SIGNATURE_OPTION = "usp_signature"
EVENT_SIGNATURE_HEADER = "usp-signature"
_VERSION = "v1"
# Distinct labels keep a job signature from ever verifying as an event and vice versa.
_KEY_LABEL = b"usp broker message signing v1"
_JOB = b"job\x00"
_EVENT = b"event\x00"


def message_key(service_token: str) -> bytes:
    """The signing key of broker messages, derived from the service token (so one secret
    is configured, and the token itself never signs anything but calls)."""
    if not service_token:
        raise ValueError("a service token is required")
    return hmac.new(service_token.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _signature(key: bytes, label: bytes, content: bytes) -> str:
    digest = hmac.new(key, label + content, hashlib.sha256).hexdigest()
    return f"{_VERSION}:{digest}"


def _matches(expected: str, presented: object) -> bool:
    if not isinstance(presented, str):
        return False
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace"))


class JobMessage(Protocol):
    """What is signed of a Dramatiq message (a Message or the worker's MessageProxy)."""

    @property
    def actor_name(self) -> str: ...
    @property
    def queue_name(self) -> str: ...
    @property
    def args(self) -> Sequence[Any]: ...
    @property
    def kwargs(self) -> Mapping[str, Any]: ...
    @property
    def message_id(self) -> str: ...
    @property
    def options(self) -> Mapping[str, Any]: ...


def canonical_queue(queue_name: str) -> str:
    """The queue a message belongs to, also while it waits in its delay (.DQ) or dead
    letter (.XQ) queue (Dramatiq's own naming)."""
    if queue_name.endswith((".DQ", ".XQ")):
        return queue_name[:-3]
    return queue_name


def _job_content(message: JobMessage) -> bytes:
    """The signed part of a job message, in one canonical JSON form."""
    signed = {
        "actor": message.actor_name,
        "queue": canonical_queue(message.queue_name),
        "args": list(message.args),
        "kwargs": dict(message.kwargs),
        "id": message.message_id,
    }
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def sign_message(message: dramatiq.Message[Any], key: bytes) -> dramatiq.Message[Any]:
    """A copy of `message` carrying its signature."""
    signature = _signature(key, _JOB, _job_content(message))
    return message.copy(options={SIGNATURE_OPTION: signature})


def message_is_authentic(message: JobMessage, key: bytes) -> bool:
    presented = message.options.get(SIGNATURE_OPTION)
    return _matches(_signature(key, _JOB, _job_content(message)), presented)


def sign_event(body: bytes, key: bytes) -> str:
    """The `usp-signature` header value for an encoded event envelope."""
    return _signature(key, _EVENT, body)


def event_is_authentic(body: bytes, headers: Mapping[str, Any] | None, key: bytes) -> bool:
    presented = (headers or {}).get(EVENT_SIGNATURE_HEADER)
    return _matches(sign_event(body, key), presented)
