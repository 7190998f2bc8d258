"""The gateway's side of the bus: publishing, and asking with a deadline.

The gateway never waits without a bound: a question that nobody answers within
its deadline is a 503 naming who did not answer, and the question itself expires
in the broker at the same deadline, so it cannot be acted on after the client was
told it failed.
"""

import json
import logging
import threading
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from typing import Any

from kombu import Connection, Exchange, Message, Queue
from kombu.exceptions import OperationalError

from contract.bus import connect, publish
from contract.events import Envelope
from contract.topology import declare_topology
from gateway.errors import UnavailableError

log = logging.getLogger(__name__)

# How long the gateway waits for the broker itself before answering 503.
BROKER_WAIT = 3.0


class BrokerUnavailableError(UnavailableError):
    code = "broker_unavailable"


class NoReplyError(UnavailableError):
    code = "no_reply"


class BusClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.reply_queue = f"ctstation.reply.{uuid.uuid4().hex}"
        self._futures: dict[str, Future[dict[str, Any]]] = {}
        self._futures_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._publisher: Connection = connect(url)
        self._listening = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._listen_forever, name="gateway-replies", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._publisher.release()

    @property
    def is_healthy(self) -> bool:
        return self._listening.is_set()

    def publish(
        self,
        envelope: Envelope,
        exchange: Exchange,
        routing_key: str,
        **properties: Any,
    ) -> None:
        """Publish, confirmed by the broker, or raise BrokerUnavailableError."""
        errors = self._publisher.connection_errors + self._publisher.channel_errors
        with self._publish_lock:
            try:
                self._publisher.ensure_connection(
                    max_retries=1, timeout=BROKER_WAIT, interval_start=0.2
                )
                producer = self._publisher.Producer(on_return=self._on_return)
                # Bounded waits for the socket and the broker's confirm: a broker
                # that blocks publishers (a memory alarm) must not hang requests.
                publish(
                    producer,
                    envelope,
                    exchange,
                    routing_key,
                    timeout=BROKER_WAIT,
                    confirm_timeout=BROKER_WAIT,
                    **properties,
                )
            except (*errors, OSError, OperationalError) as error:
                self._publisher.collect()
                raise BrokerUnavailableError(
                    f"the message broker is unavailable: {error}"
                ) from error

    def ask(
        self,
        envelope: Envelope,
        exchange: Exchange,
        routing_key: str,
        timeout: float,
        who: str,
    ) -> dict[str, Any]:
        """Publish a question and wait for its answer.

        The question is published as mandatory: when no queue takes it (the
        executors' question queue goes with the last executor of a type) the
        broker returns it at once, and the asker hears so without waiting.

        Raises:
            BrokerUnavailableError: the broker cannot be reached.
            NoReplyError: ``who`` did not answer within ``timeout`` seconds.
        """
        if not self._listening.wait(BROKER_WAIT):
            raise BrokerUnavailableError("the message broker is unavailable")

        # The reply is matched to this question by the envelope's correlation id.
        if envelope.correlationid is None:
            envelope.correlationid = envelope.id
        envelope.deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        correlation_id = envelope.correlationid
        future: Future[dict[str, Any]] = Future()
        with self._futures_lock:
            self._futures[correlation_id] = future
        try:
            self.publish(
                envelope,
                exchange,
                routing_key,
                reply_to=self.reply_queue,
                expiration=timeout,
                mandatory=True,
            )
            return future.result(timeout)
        except FutureTimeout:
            raise NoReplyError(f"no {who} answered within {timeout:g} s") from None
        finally:
            with self._futures_lock:
                self._futures.pop(correlation_id, None)

    def _on_return(
        self, exception: Exception, exchange: str, routing_key: str, message: Any
    ) -> None:
        """The broker returned a question no queue would take: nobody is there."""
        correlation_id = message.properties.get("correlation_id")
        with self._futures_lock:
            future = self._futures.get(correlation_id)
        if future is not None and not future.done():
            kind = routing_key or exchange
            future.set_exception(
                NoReplyError(f"no {kind} executor is running to answer")
            )

    def _listen_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as error:
                self._listening.clear()
                log.warning("reply listener lost the broker (%s); reconnecting", error)
                self._stopping.wait(1.0)

    def _listen(self) -> None:
        queue = Queue(self.reply_queue, exclusive=True, auto_delete=True, durable=False)
        with connect(self.url) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_WAIT)
            declare_topology(connection)
            with connection.Consumer(queue, on_message=self._on_reply, no_ack=True):
                self._listening.set()
                while not self._stopping.is_set():
                    try:
                        connection.drain_events(timeout=0.2)
                    except TimeoutError:
                        connection.heartbeat_check()

    def _on_reply(self, message: Message) -> None:
        correlation_id = message.properties.get("correlation_id")
        with self._futures_lock:
            future = self._futures.get(correlation_id)
        if future is None:
            log.debug("late reply %s dropped", correlation_id)
            return
        try:
            future.set_result(json.loads(message.body))
        except (ValueError, TypeError) as error:
            future.set_exception(error)
