"""A queue of the test's own bound to `<namespace>.events`, to see what was published."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import kombu

from usp import events
from usp.v1 import common_pb2

Envelopes = list[common_pb2.EventEnvelope]


class EventTap:
    def __init__(self, broker_url: str, namespace: str) -> None:
        self.connection = kombu.Connection(events.kombu_url(broker_url))
        self.queue = kombu.Queue(
            f"{namespace}.tap.{uuid.uuid4().hex[:8]}",
            exchange=events.exchange(namespace),
            routing_key="#",
            durable=False,
            exclusive=True,
        )
        self.bound = self.queue(self.connection.channel())
        self.bound.declare()

    def drain(self) -> Envelopes:
        """Every event already in the queue, without waiting for more."""
        received: Envelopes = []
        while (message := self.bound.get(no_ack=True)) is not None:
            received.append(events.decode(message.body))
        return received

    def wait_for(self, done: Callable[[Envelopes], bool], timeout: float = 20.0) -> Envelopes:
        """Events as they arrive, until `done(events so far)` or the deadline."""
        received: Envelopes = []
        deadline = time.monotonic() + timeout
        consumer = kombu.Consumer(
            self.bound.channel,
            queues=[self.bound],
            callbacks=[lambda body, message: received.append(events.decode(message.body))],
            no_ack=True,
        )
        with consumer:
            while not done(received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; got {[e.type for e in received]}")
                try:
                    self.connection.drain_events(timeout=min(remaining, 1.0))
                except TimeoutError:
                    continue
        return received

    def close(self) -> None:
        self.connection.release()
