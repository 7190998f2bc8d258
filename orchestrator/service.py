"""The orchestrator: the one writer of task state.

It consumes requested events and executor reports from its durable queue, records
each in SQL, and only then acks the message. A message that cannot be understood is
dead-lettered with the reason and acked; a message whose effect could not be recorded
(database down) is requeued, and the broker dead-letters it after the queue's
delivery limit. Every handler is idempotent, because a message may come twice.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Consumer, Exchange, Message
from kombu.exceptions import OperationalError
from kombu.mixins import ConsumerProducerMixin
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError as DBAPIOperationalError

from contract.bus import dead_letter, publish, reply, run_until_stopped
from contract.events import (
    Envelope,
    EventType,
    MalformedEventError,
    make_event,
    parse_event,
)
from contract.health import Heartbeat
from contract.schemas import (
    ORCHESTRATOR_INPUTS,
    CancelRequested,
    CloneRequested,
    CreateRequested,
    Step,
    TaskAborted,
    TaskCancelled,
    TaskCompleted,
    TaskProgress,
    WorkClone,
    WorkCreate,
    WorkRemove,
)
from contract.topology import EVENTS, WORK, declare_topology, orchestrator_queue
from orchestrator.db import Task
from orchestrator.errors import NameReservedError
from orchestrator.events import EventLog
from orchestrator.states import TaskState
from orchestrator.tasks import TaskStore, task_to_dict

log = logging.getLogger(__name__)

SERVICE = "orchestrator"


@dataclass(frozen=True)
class Timeouts:
    """How long a task may go unheard of before the sweeper aborts it."""

    # A running task whose executor has not reported for this long.
    silence: float = 300.0
    # A waiting task that no executor has taken for this long.
    waiting: float = 3600.0
    # How often the sweeper looks.
    sweep_every: float = 5.0
    # How long the event log keeps an event for followers to replay.
    event_retention: float = 7 * 24 * 3600.0


AnyRequest = CreateRequested | CloneRequested


def work_for(task: Task, admin: bool, installation: str) -> tuple[EventType, BaseModel]:
    """The work message that carries out a stored task."""
    common = {
        "task_id": task.id,
        "task_uid": task.request_id,
        "installation": installation,
        "user": task.user,
        "type": task.type,
        "name": task.name,
    }
    if task.kind == "clone":
        params = task.create_params
        return EventType.WORK_CLONE, WorkClone(
            **common,
            source_container=task.image,
            start=params["start"],
            ports=params.get("ports"),
            admin=admin,
        )
    return EventType.WORK_CREATE, WorkCreate(
        **common,
        source=task.source,
        image=task.image,
        tag=task.tag,
        params=task.create_params,
    )


class Orchestrator(ConsumerProducerMixin):
    def __init__(
        self,
        connection: Connection,
        store: TaskStore,
        events: EventLog,
        user_exists: Callable[[str], bool],
        is_admin: Callable[[str], bool],
        timeouts: Timeouts = Timeouts(),
        redispatch_unfinished: bool = False,
        installation: str = "",
    ) -> None:
        self.connection = connection
        self.heartbeat: Heartbeat | None = None
        self.store = store
        self.events = events
        self.installation = installation
        self.user_exists = user_exists
        self.is_admin = is_admin
        self.timeouts = timeouts
        self._next_sweep = 0.0
        self._started = time.time()
        # With the in-process bus, queued work dies with the process; SQL still
        # knows every unfinished task, so its work is queued again at start.
        self._redispatch = redispatch_unfinished
        self.queue_name = orchestrator_queue().name

    def get_consumers(self, consumer: type[Consumer], channel: Any) -> list[Consumer]:
        declare_topology(self.connection)
        return [
            consumer(
                queues=[orchestrator_queue()],
                on_message=self.on_message,
                prefetch_count=20,
            )
        ]

    def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
        if self._redispatch:
            self._redispatch = False
            for task in self.store.unfinished():
                log.info("task %s queued again after a restart", task.id)
                self._dispatch(task)

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        # Wake at least five times a second: the sweeper runs between deliveries.
        run_until_stopped(
            lambda: super(Orchestrator, self).run(
                _tokens, safety_interval=0.2, **kwargs
            ),
            lambda: self.should_stop,
            SERVICE,
        )

    def on_iteration(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat()
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + self.timeouts.sweep_every
            self.events.forget_before(now - self.timeouts.event_retention)
            if self._is_caught_up():
                self.sweep(now)

    def _is_caught_up(self) -> bool:
        """Whether no report may still wait in our queue unread.

        Silence is judged only then: after a restart, or behind a backlog, an
        executor's reports may be sitting in the queue, and a task whose report
        is merely unread must not be aborted.
        """
        if time.time() - self._started < self.timeouts.silence:
            return False
        try:
            queue = orchestrator_queue()(self.producer.channel)
            return queue.queue_declare(passive=True).message_count == 0
        except Exception:  # noqa: BLE001 - when in doubt, do not abort anything
            return False

    def on_message(self, message: Message) -> None:
        try:
            envelope, data = self._read(message)
        except MalformedEventError as error:
            # Nothing will ever make this message readable: keep it for a human.
            dead_letter(self.producer, message, self.queue_name, str(error))
            message.ack()
            return

        try:
            self._handle(envelope, data, message)
        except (DBAPIOperationalError, InterfaceError, TimeoutError):
            # The database is away: the effect was not recorded, so let the broker
            # deliver the message again. Its delivery limit dead-letters one that
            # fails every time.
            log.exception("could not record event %s; requeued", envelope.id)
            time.sleep(1)
            message.requeue()
            return
        except OperationalError:
            raise  # the broker is away; the loop reconnects and it comes again
        except Exception as error:  # noqa: BLE001 - a poison message
            # Anything else fails the same way every time (a value the database
            # refuses, a bug): retrying would stall every task behind it.
            log.exception("event %s cannot be handled; dead-lettered", envelope.id)
            dead_letter(
                self.producer,
                message,
                self.queue_name,
                f"{type(error).__name__}: {error}",
            )
        message.ack()

    def _read(self, message: Message) -> tuple[Envelope, BaseModel]:
        envelope = parse_event(message.body)
        model = ORCHESTRATOR_INPUTS.get(envelope.type)
        if model is None:
            raise MalformedEventError(f"unknown event type {envelope.type!r}")
        try:
            return envelope, model.model_validate(envelope.data)
        except ValidationError as error:
            raise MalformedEventError(
                f"invalid data for {envelope.type}: {error}"
            ) from error

    def _handle(self, envelope: Envelope, data: BaseModel, message: Message) -> None:
        if isinstance(data, CreateRequested | CloneRequested):
            self.on_requested(envelope, data, message)
        elif isinstance(data, CancelRequested):
            self.on_cancel_requested(data, message)
        elif isinstance(data, TaskProgress):
            self.on_progress(data)
        elif isinstance(data, TaskCompleted):
            self.on_completed(data)
        elif isinstance(data, TaskAborted):
            self.on_aborted(data)

    def on_requested(
        self, envelope: Envelope, request: AnyRequest, message: Message
    ) -> None:
        """Store a create or clone request as a task and queue its work."""
        deadline = envelope.deadline
        if deadline is not None and time.time() > deadline.timestamp():
            # The asker was already told this failed (a 503 after its wait); a
            # task made now would be one it does not know of.
            log.warning(
                "request %s dropped: its asker gave up at %s",
                envelope.id,
                deadline.isoformat(),
            )
            return
        if not self.user_exists(request.user):
            reason = f"unknown user {request.user!r}"
            dead_letter(self.producer, message, self.queue_name, reason)
            reply(
                self.producer,
                message,
                {"error": {"code": "unknown_user", "message": reason}},
            )
            return

        # A request stamped in the future (a publisher's skewed clock) still
        # must not make init later than start.
        init = min(envelope.time.timestamp(), time.time())
        try:
            task, created = self.store.add(request, envelope.id, init)
        except NameReservedError as error:
            self._reject(envelope, request, message, init, str(error))
            return
        if created:
            log.info(
                "task %s accepted: %s %s %s from %s",
                task.id,
                task.kind,
                task.type,
                task.name,
                task.source,
            )
            self._publish_task_event(EventType.TASK_CREATED, task, envelope.id)
        if task.state == TaskState.WAITING:
            # Also on a redelivered request: the work may not have been queued
            # before a crash. Executors recognise work they already did.
            self._dispatch(task)
        reply(self.producer, message, {"task": task_to_dict(task)})

    def _reject(
        self,
        envelope: Envelope,
        request: AnyRequest,
        message: Message,
        init: float,
        reason: str,
    ) -> None:
        """Refuse a request before any work: a 409 for a caller waiting on a reply,
        an aborted task for a publisher who follows the task through events."""
        if message.properties.get("reply_to"):
            error = {"code": "name_taken", "status": 409, "message": reason}
            reply(self.producer, message, {"error": error})
            log.info("request %s refused: %s", envelope.id, reason)
            return
        task = self.store.add_rejected(request, envelope.id, init, reason)
        log.info("task %s rejected: %s", task.id, reason)
        self._publish_task_event(EventType.TASK_CREATED, task, envelope.id)

    def on_progress(self, report: TaskProgress) -> None:
        now = time.time()
        before = self.store.get(report.task_id)
        if before is None:
            log.warning("progress for unknown task %s ignored", report.task_id)
            return

        if self.store.begin_running(report.task_id, report.step, now):
            log.info("task %s started by %s", report.task_id, report.executor)
        recorded = self.store.record_progress(
            report.task_id, report.step, report.current, report.total, now
        )
        if not recorded:
            log.debug("late progress for finished task %s ignored", report.task_id)
        elif before.detail_state != report.step or before.state != "running":
            self._publish_state_changed(report.task_id)

    def on_cancel_requested(self, request: CancelRequested, message: Message) -> None:
        task = self.store.get(request.task_id)
        if task is None or not self._may_act_on(request.user, task):
            error = {
                "code": "task_not_found",
                "status": 404,
                "message": f"no task {request.task_id}",
            }
            reply(self.producer, message, {"error": error})
            return

        if self.store.cancel(task.id, time.time()):
            log.info("task %s cancelled by %s", task.id, request.user)
            self._publish_state_changed(task.id)
            cancelled = TaskCancelled(
                task_id=task.id, task_uid=task.request_id, type=task.type
            )
            self._publish(
                EventType.TASK_CANCELLED,
                cancelled,
                EVENTS,
                EventType.TASK_CANCELLED.routing_key,
            )
        reply(self.producer, message, {"task": task_to_dict(self.store.get(task.id))})

    def _may_act_on(self, user: str, task: Task) -> bool:
        return user == task.user or self.is_admin(user)

    def on_completed(self, report: TaskCompleted) -> None:
        container = report.container.model_dump(mode="json")
        if self.store.complete(report.task_id, container, report.notes, time.time()):
            log.info(
                "task %s completed: %s %s",
                report.task_id,
                report.container.type,
                report.container.name,
            )
            self._publish_state_changed(report.task_id)
            return

        task = self.store.get(report.task_id)
        if task is None:
            log.warning(
                "completion of unknown task %s: container %s left alone",
                report.task_id,
                report.container.name,
            )
            return
        recorded = (task.container or {}).get("id")
        if task.state == TaskState.COMPLETED and recorded == report.container.id:
            return  # a duplicate report of the completion already recorded
        # The task ended (cancelled, timed out) before its container was reported:
        # the container has no task to belong to, so it must go.
        log.warning(
            "completion of task %s refused: it had ended as %s; removing container %s",
            task.id,
            task.state,
            report.container.name,
        )
        remove = WorkRemove(
            task_id=task.id,
            task_uid=task.request_id,
            user=task.user,
            type=task.type,
            reason=f"task {task.id} had ended",
        )
        self._publish(EventType.WORK_REMOVE, remove, WORK, task.type)

    def on_aborted(self, report: TaskAborted) -> None:
        aborted = self.store.abort(
            report.task_id, report.step, report.code, report.reason, time.time()
        )
        if aborted:
            log.info(
                "task %s aborted at %s: %s", report.task_id, report.step, report.reason
            )
            self._publish_state_changed(report.task_id)

    def sweep(self, now: float) -> None:
        """Abort tasks whose executor went silent or that no executor took."""
        silent = self.store.silent_tasks(
            running_before=now - self.timeouts.silence,
            waiting_before=now - self.timeouts.waiting,
        )
        for task in silent:
            if task.state == TaskState.RUNNING:
                step = task.detail_state
                reason = f"executor silent for {self.timeouts.silence:.0f} s"
                code = "executor_silent"
            else:
                step = Step.QUEUED
                reason = (
                    f"no {task.type} executor took the task within "
                    f"{self.timeouts.waiting:.0f} s"
                )
                code = "no_executor"
            if self.store.abort(task.id, step, code, reason, now):
                log.warning("task %s aborted by the sweeper: %s", task.id, reason)
                self._publish_state_changed(task.id)

    def _dispatch(self, task: Task) -> None:
        work_type, work = work_for(task, self.is_admin(task.user), self.installation)
        self._publish(work_type, work, WORK, task.type, correlationid=task.request_id)
        log.debug("task %s dispatched to the %s executors", task.id, task.type)

    def _publish(
        self,
        event_type: EventType,
        data: BaseModel,
        exchange: Exchange,
        routing_key: str,
        correlationid: str | None = None,
    ) -> None:
        envelope = make_event(
            event_type,
            data.model_dump(mode="json"),
            SERVICE,
            subject=str(getattr(data, "task_id", "")) or None,
            correlationid=correlationid,
        )
        publish(self.producer, envelope, exchange, routing_key)

    def _publish_state_changed(self, task_id: int) -> None:
        task = self.store.get(task_id)
        if task is not None:
            self._publish_task_event(
                EventType.TASK_STATE_CHANGED, task, task.request_id
            )

    def _publish_task_event(
        self, event_type: EventType, task: Task, correlationid: str
    ) -> None:
        envelope = make_event(
            event_type,
            {"task": task_to_dict(task)},
            SERVICE,
            subject=str(task.id),
            correlationid=correlationid,
        )
        # Kept before it is published: a follower replaying the log then never
        # misses an event that a live follower saw.
        self.events.append(envelope, task.id, task.user)
        publish(self.producer, envelope, EVENTS, event_type.routing_key)
