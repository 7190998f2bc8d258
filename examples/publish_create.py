"""Ask ctstation for a container over RabbitMQ, then follow its task to the end.

An example for services that talk to ctstation through the broker rather than
the HTTP API. Run it from the repository (or anywhere ``pika`` is installed)::

    python examples/publish_create.py --url amqp://guest:guest@127.0.0.1:5672/%2F \\
        --user alice --type docker --source local --image ctstation-local/box \\
        --name web1

Exit status: 0 the task completed; 1 it was aborted, or the request was refused
(the reason is printed); 2 no end within ``--timeout`` seconds (or bad arguments).

What it does, in the order that matters:

1. Declares its own queue (server-named, exclusive, auto-delete) and binds it to
   ``ctstation.events`` with ``task.created`` and ``task.state.changed``, and to
   the fanout ``ctstation.dead``, *before* publishing: an event published before
   the binding exists reaches no one.
2. Publishes one event to ``ctstation.events`` with routing key
   ``task.create.requested``: persistent (delivery mode 2), ``mandatory``, and
   with publisher confirms, so a publish that returns is stored by the broker.
   ``reply_to`` names the queue: the orchestrator answers there with the task as
   stored, or with an error, once it has handled the request.
3. Prints each state of the task until it ends. Its events are those whose
   ``correlationid`` is the request's ``id`` (or, for a request repeated with an
   idempotency key, whose ``subject`` is the task id the reply gave). A request
   the orchestrator cannot accept (unknown source, bad name, unknown user) makes
   no task: it lands in ``ctstation.dead-letters`` with the reason in the header
   ``x-ctstation-reason``, and the copy the fanout gives this queue ends the wait.

The message, for a service in another language: a CloudEvents 1.0 event in
structured JSON, with the AMQP properties ``content_type`` =
``application/cloudevents+json``, ``content_encoding`` = ``utf-8``,
``delivery_mode`` = 2, ``correlation_id`` = the event's ``id`` and, to be answered,
``reply_to`` = your queue::

    {
      "specversion": "1.0",
      "id": "9a1c6f0e-6a55-4d4e-9a59-2f0d2f1d5b11",
      "source": "/your-service",
      "type": "ctstation.task.create.requested",
      "time": "2026-01-01T12:00:00Z",
      "datacontenttype": "application/json",
      "correlationid": "9a1c6f0e-6a55-4d4e-9a59-2f0d2f1d5b11",
      "data": {
        "user": "alice",
        "type": "docker",
        "source": "local",
        "image": "ctstation-local/box",
        "tag": "latest",
        "name": "web1",
        "params": {},
        "idempotency_key": "order-1234"
      }
    }

``id`` is a new UUID per request: the orchestrator keys the task by it, so a
redelivery makes no second task. In ``data``: ``user`` is an existing ctstation
user; ``type`` is ``docker`` (sources ``local``, ``dockerhub``) or ``lxc``
(``local``, ``appcenter``); ``params`` (optional) are the create params of the
HTTP API; ``idempotency_key`` (optional) makes a repeat by the same user answer
the first task instead of making another. No other field is allowed.

The events it follows carry ``data.task``, the task as the API shows it (``id``,
``state``, ``detail_state``, ``container``, ``error``...); ``state`` ends as
``completed`` or ``aborted``. The orchestrator's reply is plain JSON,
``{"task": {...}}`` or ``{"error": {"code": ..., "message": ...}}``.

The envelope is built with ctstation's own models when they can be imported, and
by hand otherwise; the data is not checked here, the orchestrator checks it.
"""

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

try:  # ctstation's own models, where ctstation is installed
    from contract.events import Envelope, EventType
except ImportError:
    Envelope = EventType = None

EVENTS = "ctstation.events"
DEAD = "ctstation.dead"
REQUESTED = "ctstation.task.create.requested"
FOLLOWED_KEYS = ("task.created", "task.state.changed")
SOURCE = "/examples/publish-create"

COMPLETED, ABORTED, TIMED_OUT = 0, 1, 2


def build_request(args: argparse.Namespace, request_id: str) -> str:
    """The create.requested envelope, as JSON."""
    data: dict[str, Any] = {
        "user": args.user,
        "type": args.type,
        "source": args.source,
        "image": args.image,
        "tag": args.tag,
        "name": args.name,
    }
    if args.idempotency_key:
        data["idempotency_key"] = args.idempotency_key
    now = datetime.now(UTC)
    if Envelope is None:
        envelope = {
            "specversion": "1.0",
            "id": request_id,
            "source": SOURCE,
            "type": REQUESTED,
            "time": now.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "correlationid": request_id,
            "data": data,
        }
        return json.dumps(envelope)
    return Envelope(
        id=request_id,
        source=SOURCE,
        type=EventType.CREATE_REQUESTED,
        time=now,
        correlationid=request_id,
        data=data,
    ).to_json()


def declare_inbox(channel: Any) -> str:
    """Our queue, bound to the task's events and to the dead letters."""
    channel.exchange_declare(EVENTS, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD, exchange_type="fanout", durable=True)
    declared = channel.queue_declare("", exclusive=True, auto_delete=True)
    queue = declared.method.queue
    for key in FOLLOWED_KEYS:
        channel.queue_bind(queue, EVENTS, routing_key=key)
    channel.queue_bind(queue, DEAD)
    return str(queue)


def publish_request(channel: Any, body: str, request_id: str, inbox: str) -> None:
    """Publish the request; returns once the broker has stored it.

    Raises:
        UnroutableError: no queue takes task.create.requested (no orchestrator
            ever declared its queue on this vhost).
        NackError: the broker refused to store it.
    """
    channel.confirm_delivery()
    channel.basic_publish(
        EVENTS,
        REQUESTED.removeprefix("ctstation."),
        body.encode(),
        properties=pika.BasicProperties(
            content_type="application/cloudevents+json",
            content_encoding="utf-8",
            delivery_mode=pika.DeliveryMode.Persistent,
            correlation_id=request_id,
            reply_to=inbox,
        ),
        mandatory=True,
    )


class Follower:
    """Reads what comes to the inbox and tells when the task has ended."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.task_id: int | None = None
        self.last_state: tuple[Any, Any] | None = None

    def on_message(self, method: Any, properties: Any, body: bytes) -> int | None:
        """The exit status once the task has ended, else None."""
        try:
            document = json.loads(body)
        except ValueError:
            return None  # not ours: nothing of ours is unreadable
        if not isinstance(document, dict):
            return None
        if method.exchange == DEAD:
            return self.on_dead_letter(document, properties)
        if method.exchange == "":
            return self.on_reply(document, properties)
        data = document.get("data")
        if self.is_ours(document) and isinstance(data, dict):
            return self.on_task(data.get("task"))
        return None

    def is_ours(self, envelope: dict[str, Any]) -> bool:
        if envelope.get("correlationid") == self.request_id:
            return True
        return self.task_id is not None and envelope.get("subject") == str(self.task_id)

    def on_reply(self, answer: dict[str, Any], properties: Any) -> int | None:
        if properties.correlation_id != self.request_id:
            return None
        if "error" in answer:
            error = answer["error"]
            print(f"refused: {error.get('code')}: {error.get('message')}")
            return ABORTED
        return self.on_task(answer.get("task"))

    def on_dead_letter(self, envelope: dict[str, Any], properties: Any) -> int | None:
        if envelope.get("id") != self.request_id:
            return None
        reason = (properties.headers or {}).get("x-ctstation-reason", "no reason")
        print(f"refused: the request was dead-lettered: {reason}")
        return ABORTED

    def on_task(self, task: Any) -> int | None:
        if not isinstance(task, dict):
            return None
        self.task_id = task["id"]
        state = (task["state"], task["detail_state"])
        if state != self.last_state:
            self.last_state = state
            print(f"task {task['id']}: {task['state']}/{task['detail_state']}")
        if task["state"] == "completed":
            container = task.get("container") or {}
            print(
                f"completed: {container.get('type')} container {container.get('name')}"
            )
            return COMPLETED
        if task["state"] == "aborted":
            print(f"aborted: {(task.get('error') or {}).get('message')}")
            return ABORTED
        return None


def follow(channel: Any, inbox: str, follower: Follower, timeout: float) -> int:
    """Read the inbox until the task ends or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    # A message or, after a quiet second, (None, None, None): time to look at
    # the clock.
    deliveries = channel.consume(inbox, auto_ack=True, inactivity_timeout=1.0)
    for method, properties, body in deliveries:
        if method is not None:
            status = follower.on_message(method, properties, body)
            if status is not None:
                return status
        if time.monotonic() >= deadline:
            break
    print(f"no end within {timeout:g} s", file=sys.stderr)
    return TIMED_OUT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        help="AMQP URL; the vhost / is written %%2F",
    )
    parser.add_argument("--user", required=True, help="ctstation user who asks")
    parser.add_argument("--type", required=True, help="docker or lxc")
    parser.add_argument("--source", required=True, help="image source, e.g. local")
    parser.add_argument("--image", required=True)
    parser.add_argument("--tag", default="latest")
    parser.add_argument("--name", required=True, help="name of the new container")
    parser.add_argument("--idempotency-key", help="a repeat answers the first task")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the end"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    request_id = str(uuid.uuid4())
    try:
        connection = pika.BlockingConnection(pika.URLParameters(args.url))
    except AMQPError as error:
        print(f"cannot reach the broker: {error!r}", file=sys.stderr)
        return ABORTED
    try:
        channel = connection.channel()
        inbox = declare_inbox(channel)
        try:
            publish_request(channel, build_request(args, request_id), request_id, inbox)
        except (UnroutableError, NackError) as error:
            print(f"not published: {type(error).__name__}", file=sys.stderr)
            return ABORTED
        print(f"published request {request_id}")
        return follow(channel, inbox, Follower(request_id), args.timeout)
    except AMQPError as error:
        print(f"broker error: {error!r}", file=sys.stderr)
        return ABORTED
    finally:
        if connection.is_open:
            connection.close()


if __name__ == "__main__":
    sys.exit(main())
