"""The executor service: consumes one type's work and questions, drives its engine.

Work runs on a thread pool, off the connection's thread, so that heartbeats keep
flowing during a long pull; the connection's thread alone acks, after the job has
published its final report (completed or aborted). A job that was delivered again
(after a crash or a lost connection) finds the container it made by its task label.
"""

import logging
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from kombu import Connection, Consumer, Message
from kombu.exceptions import OperationalError
from kombu.mixins import ConsumerMixin
from kombu.pools import producers
from pydantic import BaseModel, ValidationError

from contract.bus import dead_letter, publish, reply, run_until_stopped
from contract.events import EventType, MalformedEventError, make_event, parse_event
from contract.health import Heartbeat
from contract.images import ContainerType
from contract.schemas import (
    WORK_INPUTS,
    RpcRequest,
    TaskCancelled,
    WorkClone,
    WorkCreate,
    WorkRemove,
)
from contract.topology import (
    EVENTS,
    cancellation_queue,
    declare_topology,
    rpc_queue,
    work_queue,
)
from executors import queries
from executors.engine import Engine
from executors.jobs import CloneJob, CreateJob, remove_task_container

log = logging.getLogger(__name__)

# Cancelled task uids remembered; a job checks its own between steps.
CANCELLED_KEPT = 10_000
# How long a job keeps trying to publish its final report while the broker is away.
FINAL_REPORT_PATIENCE = 300.0


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
        self._cancelled: dict[str, None] = {}  # task uids, oldest first
        self._lock = threading.Lock()
        self.consuming = threading.Event()
        self.heartbeat: Heartbeat | None = None

    def get_consumers(self, consumer: type[Consumer], channel: Any) -> list[Consumer]:
        declare_topology(self.connection)
        # Questions and cancellations get a channel of their own: a channel's
        # prefetch limit (per channel on some transports) must not hold them back
        # while every work slot is busy with a long pull.
        # (``channel`` belongs to the mixin's clone of our connection, the one
        # it drains, so the side channel is opened on that clone too.)
        side_channel = channel.connection.client.channel()
        return [
            consumer(
                queues=[work_queue(self.type)],
                on_message=self.on_work,
                prefetch_count=self.concurrency,
            ),
            Consumer(
                side_channel, queues=[rpc_queue(self.type)], on_message=self.on_rpc
            ),
            Consumer(
                side_channel,
                queues=[cancellation_queue()],
                on_message=self.on_cancelled,
                no_ack=True,
            ),
        ]

    def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
        self.consuming.set()
        log.info("%s executor consuming", self.type)

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.consuming.clear()
        super().on_connection_error(exc, interval)

    def on_iteration(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat()
        self.ack_finished()

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        # A short drain timeout so that finished work is acked promptly.
        run_until_stopped(
            lambda: super(ExecutorService, self).run(
                _tokens, safety_interval=0.1, **kwargs
            ),
            lambda: self.should_stop,
            self.name,
        )
        # Only now: the loop delivers no more work that would need a thread.
        self.pool.shutdown(wait=False, cancel_futures=True)

    def on_work(self, message: Message) -> None:
        try:
            work = self._read_work(message)
        except (MalformedEventError, ValidationError) as error:
            # Unreadable work never becomes readable: keep it for a human.
            queue = work_queue(self.type).name
            dead_letter(self.connection.Producer(), message, queue, str(error))
            message.ack()
            return

        log.info("task %s taken: %s", work.task_id, type(work).__name__)
        if isinstance(work, WorkRemove):
            run = partial(remove_task_container, self.engine, work)
        else:
            job_class = CloneJob if isinstance(work, WorkClone) else CreateJob
            job = job_class(self.engine, work, self.emit, self.name, self.is_cancelled)
            run = job.run
        self._track(self.pool.submit(run), message)

    def _read_work(self, message: Message) -> WorkCreate | WorkClone | WorkRemove:
        envelope = parse_event(message.body)
        model = WORK_INPUTS.get(envelope.type)
        if model is None:
            raise MalformedEventError(f"unknown work type {envelope.type!r}")
        return model.model_validate(envelope.data)

    def on_rpc(self, message: Message) -> None:
        try:
            request = RpcRequest.model_validate(parse_event(message.body).data)
        except (MalformedEventError, ValidationError) as error:
            message.ack()
            log.warning("unreadable question dropped: %s", error)
            return
        self._track(self.pool.submit(self._answer, request, message), message)

    def _answer(self, request: RpcRequest, message: Message) -> None:
        answer = queries.answer(self.engine, request.method, request.args)
        with producers[self.connection].acquire(block=True) as producer:
            reply(producer, message, answer)

    def on_cancelled(self, message: Message) -> None:
        """Note a cancelled task; its job, if it runs here, stops at its next step."""
        try:
            cancelled = TaskCancelled.model_validate(parse_event(message.body).data)
        except (MalformedEventError, ValidationError) as error:
            log.warning("unreadable cancellation dropped: %s", error)
            return
        if cancelled.type != self.type:
            return
        with self._lock:
            self._cancelled[cancelled.task_uid] = None
            while len(self._cancelled) > CANCELLED_KEPT:
                self._cancelled.pop(next(iter(self._cancelled)))

    def is_cancelled(self, task_uid: str) -> bool:
        with self._lock:
            return task_uid in self._cancelled

    def emit(self, event_type: EventType, data: BaseModel) -> None:
        """Publish an event from a worker thread, on a pooled connection of its own.

        A broker outage must not decide a task: a progress report is dropped (the
        next one says more), and a final report is tried again until the broker
        is back, so the job neither aborts nor loses its result.

        Raises:
            OperationalError: a final report could not be published for
                ``FINAL_REPORT_PATIENCE`` seconds; the work is then not acked,
                and its redelivery finds the container by label.
        """
        envelope = make_event(
            event_type,
            data.model_dump(mode="json"),
            self.name,
            subject=str(getattr(data, "task_id", "")) or None,
        )
        deadline = time.monotonic() + FINAL_REPORT_PATIENCE
        while True:
            try:
                with producers[self.connection].acquire(block=True) as producer:
                    publish(producer, envelope, EVENTS, event_type.routing_key)
                return
            except OperationalError as error:
                if event_type == EventType.TASK_PROGRESS:
                    log.warning("progress report dropped: %s", error)
                    return
                if time.monotonic() > deadline:
                    raise
                log.warning("%s not published (%s); trying again", envelope.type, error)
                time.sleep(1)

    def _track(self, future: Future[None], message: Message) -> None:
        with self._lock:
            self._pending.append((future, message))

    def ack_finished(self) -> None:
        """Ack, on the connection's thread, each message whose work has ended."""
        # One look at each future: one that finished between two looks would be
        # in neither list, and its message never acked.
        done: list[tuple[Future[None], Message]] = []
        pending: list[tuple[Future[None], Message]] = []
        with self._lock:
            for future, message in self._pending:
                (done if future.done() else pending).append((future, message))
            self._pending = pending
        for future, message in done:
            try:
                if future.exception() is not None:
                    # Its final report was never published: let the work come
                    # again rather than forget the task.
                    message.requeue()
                    continue
                message.ack()
            except Exception:
                # The channel it came on is gone (reconnect); the broker has
                # redelivered it and the job will find its container by label.
                log.warning("could not ack a finished message; it will come again")
