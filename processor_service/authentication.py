"""The processor's side of job message authentication: nothing unsigned ever runs."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, SkipMessage

from usp.message_auth import SIGNATURE_OPTION, message_is_authentic

logger = logging.getLogger(__name__)


class MessageAuthentication(Middleware):
    """Fails every message whose signature is missing or wrong before its actor runs.

    A failed message is not retried and goes to its dead letter queue; the refusal is
    logged with the message's id, actor and queue, never with the key.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message_is_authentic(message, self._key):
            return
        reason = "unsigned" if SIGNATURE_OPTION not in message.options else "bad signature"
        logger.error(
            "job message refused",
            extra={
                "fields": {
                    "message_id": message.message_id,
                    "actor": message.actor_name,
                    "queue": message.queue_name,
                    "reason": reason,
                }
            },
        )
        message.fail()
        raise SkipMessage(reason)


def install(broker: dramatiq.Broker, key: bytes) -> None:
    """Add the check to `broker` ahead of every other middleware, so none of them acts
    on (or retries) a message that is not authentic; once per broker."""
    if any(isinstance(middleware, MessageAuthentication) for middleware in broker.middleware):
        return
    first: Any = type(broker.middleware[0]) if broker.middleware else None
    broker.add_middleware(MessageAuthentication(key), before=first)
