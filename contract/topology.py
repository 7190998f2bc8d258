"""Exchanges and queues, declared idempotently by every service that uses them.

Publishers declare the queues they feed as well as consumers do, so an event sent
before its consumer ever started waits in a durable queue instead of being dropped.

    ctstation.events   topic   domain events, routing key = event type
    ctstation.work     direct  one durable queue per executor type
    ctstation.rpc      direct  questions to executors, answered on a reply queue
    ctstation.dead     fanout  what no consumer could handle, with the reason
"""

import uuid

from kombu import Connection, Exchange, Queue, binding

from contract.events import EventType
from contract.images import ContainerType

EVENTS = Exchange("ctstation.events", type="topic", durable=True)
WORK = Exchange("ctstation.work", type="direct", durable=True)
RPC = Exchange("ctstation.rpc", type="direct", durable=True)
DEAD = Exchange("ctstation.dead", type="fanout", durable=True)

DEAD_LETTERS = Queue("ctstation.dead-letters", exchange=DEAD, durable=True)

# After this many deliveries a message is dead-lettered by the broker rather than
# redelivered forever (a message that crashes its consumer every time).
DELIVERY_LIMIT = 5

_DURABLE_ARGS = {
    "x-queue-type": "quorum",
    "x-delivery-limit": DELIVERY_LIMIT,
    "x-dead-letter-exchange": DEAD.name,
}

_ORCHESTRATOR_KEYS = [
    "task.*.requested",
    EventType.TASK_PROGRESS.routing_key,
    EventType.TASK_COMPLETED.routing_key,
    EventType.TASK_ABORTED.routing_key,
]


def orchestrator_queue() -> Queue:
    return Queue(
        "ctstation.orchestrator",
        bindings=[binding(EVENTS, routing_key=key) for key in _ORCHESTRATOR_KEYS],
        durable=True,
        queue_arguments=_DURABLE_ARGS,
    )


def work_queue(container_type: ContainerType) -> Queue:
    return Queue(
        f"ctstation.work.{container_type}",
        exchange=WORK,
        routing_key=str(container_type),
        durable=True,
        queue_arguments=_DURABLE_ARGS,
    )


def rpc_queue(container_type: ContainerType) -> Queue:
    # Not durable: a question nobody answers within its deadline is worthless, and
    # the asker reports the executor type as down.
    return Queue(
        f"ctstation.rpc.{container_type}",
        exchange=RPC,
        routing_key=str(container_type),
        durable=False,
        auto_delete=True,
    )


def cancellation_queue() -> Queue:
    """A private queue of cancellations for one executor process.

    Every executor must hear every cancellation (the task may run on any of them),
    so each has its own exclusive queue, gone when the executor is.
    """
    return Queue(
        f"ctstation.cancellations.{uuid.uuid4().hex}",
        exclusive=True,
        auto_delete=True,
        durable=False,
        exchange=EVENTS,
        routing_key=EventType.TASK_CANCELLED.routing_key,
    )


def declare_topology(connection: Connection) -> None:
    """Declare every shared exchange and durable queue; safe to call any time."""
    channel = connection.default_channel
    for exchange in (EVENTS, WORK, RPC, DEAD):
        exchange(channel).declare()
    queues = [DEAD_LETTERS, orchestrator_queue()]
    queues += [work_queue(kind) for kind in ContainerType]
    for queue in queues:
        queue(channel).declare()
