"""Connecting to the broker and publishing envelopes the same way everywhere.

Messages are persistent (delivery mode 2) and, on RabbitMQ, confirmed by the broker
before ``publish`` returns, so a publish that returns has been stored.
"""

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from kombu import Connection, Exchange, Message, Producer
from kombu.exceptions import OperationalError

from contract.events import Envelope
from contract.topology import DEAD

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
REASON_HEADER = "x-ctstation-reason"

_RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5}


def connect(url: str) -> Connection:
    """A connection with the options every service wants for this transport."""
    if url.startswith("memory://"):
        # The in-process transport polls its queues; a short interval keeps the
        # single-process mode as responsive as a real broker.
        # A host silences kombu's "no hostname" warning; memory ignores it anyway.
        url = "memory://localhost/" if url == "memory://" else url
        return Connection(url, transport_options={"polling_interval": 0.02})
    return Connection(
        url,
        heartbeat=30,
        connect_timeout=5,
        transport_options={"confirm_publish": True},
    )


def publish(
    producer: Producer,
    envelope: Envelope,
    exchange: Exchange,
    routing_key: str,
    **properties: Any,
) -> None:
    producer.publish(
        envelope.to_json(),
        exchange=exchange,
        routing_key=routing_key,
        content_type=CONTENT_TYPE,
        content_encoding="utf-8",
        delivery_mode=2,
        correlation_id=envelope.correlationid,
        retry=True,
        retry_policy=_RETRY_POLICY,
        declare=[exchange],
        **properties,
    )


def run_until_stopped(
    run: Callable[[], None], should_stop: Callable[[], bool], service: str
) -> None:
    """Run a consumer loop again whenever the broker fails under it.

    kombu's mixins reconnect on the transport's connection errors, but a publish
    that exhausted its retries while the broker was away raises kombu's
    ``OperationalError``, which would end the loop and the service with it. The
    message being handled was not acked, so the broker delivers it again.
    """
    while not should_stop():
        try:
            run()
        except OperationalError as error:
            log.warning("%s lost the broker (%s); reconnecting", service, error)
            time.sleep(1)


def dead_letter(producer: Producer, message: Message, queue: str, reason: str) -> None:
    """Copy a message we cannot handle to the dead-letter exchange, with the reason.

    The broker's own dead-lettering (reject without requeue) cannot add a reason, so
    the consumer republishes the raw body with headers and then acks the original.
    """
    headers = dict(message.headers or {})
    headers.update(
        {
            REASON_HEADER: reason,
            "x-ctstation-queue": queue,
            "x-ctstation-routing-key": message.delivery_info.get("routing_key", ""),
        }
    )
    producer.publish(
        message.body,
        exchange=DEAD,
        routing_key=queue,
        content_type=message.content_type or "application/octet-stream",
        content_encoding=message.content_encoding or "binary",
        delivery_mode=2,
        headers=headers,
        retry=True,
        retry_policy=_RETRY_POLICY,
        declare=[DEAD],
    )
    log.warning("dead-lettered a message from %s: %s", queue, reason)


def reply(producer: Producer, request: Message, payload: dict[str, Any]) -> None:
    """Answer a request on the queue it named in ``reply_to``, if it named one."""
    reply_to = request.properties.get("reply_to")
    if not reply_to:
        return
    producer.publish(
        json.dumps(payload),
        exchange="",
        routing_key=reply_to,
        content_type="application/json",
        content_encoding="utf-8",
        correlation_id=request.properties.get("correlation_id"),
        retry=True,
        retry_policy=_RETRY_POLICY,
    )
