"""The executor service: consumes one type's work and questions, drives its engine.

Work runs on a thread pool, off the connection's thread, so that heartbeats keep
flowing during a long pull; the connection's thread alone acks, after the job has
published its final report (completed or aborted). A job that was delivered again
(after a crash or a lost connection) finds the container it made by its task label.
"""

import logging
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kombu import Connection, Consumer, Message
from kombu.mixins import ConsumerMixin
from kombu.pools import producers
from pydantic import BaseModel, ValidationError

from contract.bus import dead_letter, publish, reply
from contract.events import (
    EventType,
    MalformedEventError,
    make_event,
    parse_event,
)
from contract.images import ContainerType
from contract.schemas import RpcRequest, WorkCreate
from contract.topology import EVENTS, declare_topology, rpc_queue, work_queue
from executors.engine import Engine
from executors.jobs import CreateJob, precheck

log = logging.getLogger(__name__)


class ExecutorService(ConsumerMixin):
    def __init__(
        self, connection: Connection, engine: Engine, concurrency: int = 2
    ) -> None:
        self.connection = connection
        self.engine = engine
        self.type = ContainerType(engine.type)
        self.name = f"{engine.type}@{socket.gethostname()}"
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(concurrency + 2, thread_name_prefix=self.name)
        self._pending: list[tuple[Future[None], Message]] = []
        self._lock = threading.Lock()
        self.consuming = threading.Event()

    def get_consumers(self, consumer: type[Consumer], channel: Any) -> list[Consumer]:
        declare_topology(self.connection)
        return [
            consumer(
                queues=[work_queue(self.type)],
                on_message=self.on_work,
                prefetch_count=self.concurrency,
            ),
            consumer(queues=[rpc_queue(self.type)], on_message=self.on_rpc),
        ]

    def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
        self.consuming.set()
        log.info("%s executor consuming", self.type)

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.consuming.clear()
        super().on_connection_error(exc, interval)

    def on_iteration(self) -> None:
        self.ack_finished()

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        # A short drain timeout so that finished work is acked promptly.
        super().run(_tokens, safety_interval=0.1, **kwargs)

    def on_work(self, message: Message) -> None:
        try:
            envelope = parse_event(message.body)
            if envelope.type != EventType.WORK_CREATE:
                raise MalformedEventError(f"unknown work type {envelope.type!r}")
            work = WorkCreate.model_validate(envelope.data)
        except (MalformedEventError, ValidationError) as error:
            # Unreadable work never becomes readable: keep it for a human.
            dead_letter(
                self.producer_for_main(),
                message,
                work_queue(self.type).name,
                str(error),
            )
            message.ack()
            return

        log.info("task %s taken: %s %s", work.task_id, work.type, work.name)
        job = CreateJob(self.engine, work, self.emit, self.name)
        self._track(self.pool.submit(job.run), message)

    def on_rpc(self, message: Message) -> None:
        try:
            request = RpcRequest.model_validate(parse_event(message.body).data)
        except (MalformedEventError, ValidationError) as error:
            message.ack()
            log.warning("unreadable question dropped: %s", error)
            return
        self._track(self.pool.submit(self._answer, request, message), message)

    def _answer(self, request: RpcRequest, message: Message) -> None:
        if request.method == "precheck":
            answer = precheck(self.engine, request.args)
        elif request.method == "ping":
            answer = {"result": {"executor": self.name}}
        else:
            answer = {
                "error": {
                    "code": "unknown_method",
                    "status": 400,
                    "message": f"unknown method {request.method!r}",
                }
            }
        with producers[self.connection].acquire(block=True) as producer:
            reply(producer, message, answer)

    def emit(self, event_type: EventType, data: BaseModel) -> None:
        """Publish an event from a worker thread, on a pooled connection of its own."""
        envelope = make_event(
            event_type,
            data.model_dump(mode="json"),
            self.name,
            subject=str(getattr(data, "task_id", "")) or None,
        )
        with producers[self.connection].acquire(block=True) as producer:
            publish(producer, envelope, EVENTS, event_type.routing_key)

    def producer_for_main(self) -> Any:
        return self.connection.Producer()

    def _track(self, future: Future[None], message: Message) -> None:
        with self._lock:
            self._pending.append((future, message))

    def ack_finished(self) -> None:
        """Ack, on the connection's thread, each message whose work has ended."""
        with self._lock:
            done = [(f, m) for f, m in self._pending if f.done()]
            self._pending = [(f, m) for f, m in self._pending if not f.done()]
        for _future, message in done:
            try:
                message.ack()
            except Exception:  # noqa: BLE001
                # The channel it came on is gone (reconnect); the broker has
                # redelivered it and the job will find its container by label.
                log.warning("could not ack a finished message; it will come again")

    def stop(self) -> None:
        self.should_stop = True
        self.pool.shutdown(wait=False, cancel_futures=True)
