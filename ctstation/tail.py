"""``ctstation tail``: follow the event stream live, one line per event.

What following costs the services, and what it promises:

- Its own queue: server-named, exclusive and auto-delete, bound to
  ``ctstation.events``. The topic exchange copies each event to every bound queue,
  so the services' queues lose nothing, and the broker deletes this queue when the
  connection ends (exit, Ctrl-C, crash): nothing is left behind.
- No acks: the broker forgets each event as soon as it is sent. ``basic.qos``
  prefetch does not apply to such consumers; the broker stops sending to a
  connection that does not drain, so a stalled tail's backlog stays in its queue,
  which ``x-max-length`` with ``drop-head`` caps: a tail that cannot keep up loses
  its oldest events rather than filling the broker's memory (a memory alarm would
  block every publisher).
- At most once and live only: events from before it started are not shown, and an
  event is lost if the connection drops.
"""

import json
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import click
import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError

from contract.events import Envelope, MalformedEventError, parse_event
from contract.topology import EVENTS
from ctstation.config import Settings

# Events the broker keeps for a tail that does not read fast enough.
BACKLOG_LIMIT = 10_000

# The readable type column is as wide as the longest type, task.create.requested.
_TYPE_WIDTH = 21


def pika_parameters(url: str) -> pika.URLParameters:
    """Connection parameters for a broker URL written the way kombu reads it.

    kombu reads the path ``//`` (and an empty one) as the vhost ``/``, where pika
    would read an empty vhost name; the vhost is passed to pika quoted instead.
    """
    parts = urlsplit(url)
    scheme = "amqps" if parts.scheme == "amqps" else "amqp"
    vhost = unquote(parts.path[1:]) or "/"
    path = "/" + quote(vhost, safe="")
    return pika.URLParameters(urlunsplit((scheme, parts.netloc, path, parts.query, "")))


def broker_url() -> str:
    """The broker of the settings in force, which must be a real one.

    Raises:
        click.UsageError: the settings name the in-process bus.
    """
    url = Settings().broker_url
    if url.startswith("memory://"):
        raise click.UsageError(
            "this command talks to RabbitMQ: set CTSTATION_BROKER_URL "
            "(e.g. amqp://guest:guest@127.0.0.1//)"
        )
    return url


def connect(url: str) -> pika.BlockingConnection:
    """A blocking connection to the broker.

    Raises:
        click.ClickException: the broker cannot be reached or refused us.
    """
    parameters = pika_parameters(url)
    try:
        return pika.BlockingConnection(parameters)
    except AMQPError as error:
        where = f"{parameters.host}:{parameters.port}{_vhost(parameters)}"
        raise click.ClickException(
            f"cannot reach the broker at {where}: {error!r}"
        ) from error


def _vhost(parameters: pika.ConnectionParameters) -> str:
    return "" if parameters.virtual_host == "/" else "/" + parameters.virtual_host


@dataclass
class EventFilter:
    """Which events to show; ``None`` lets every value through.

    Progress, completions and aborts do not name the user: they pass the user
    filter when their task was seen to be the user's (its task.created or a
    state change) since following began.
    """

    task: str | None = None
    user: str | None = None
    _user_tasks: set[str] = field(default_factory=set, init=False, repr=False)

    def matches(self, envelope: Envelope) -> bool:
        ids = task_ids(envelope)
        if self.task is not None and self.task not in ids:
            return False
        if self.user is None:
            return True

        named = user_of(envelope)
        if named == self.user:
            self._user_tasks.update(ids)
            return True
        return named is None and not self._user_tasks.isdisjoint(ids)


def _field(document: Any, *path: str) -> Any:
    """A value deep in nested JSON objects, or None where one is missing."""
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def task_ids(envelope: Envelope) -> list[str]:
    """Every task id the event names: its subject, data.task_id, data.task.id."""
    found = [
        envelope.subject,
        _field(envelope.data, "task_id"),
        _field(envelope.data, "task", "id"),
    ]
    return list(dict.fromkeys(str(value) for value in found if value is not None))


def user_of(envelope: Envelope) -> str | None:
    user = _field(envelope.data, "user") or _field(envelope.data, "task", "user")
    return None if user is None else str(user)


def _pair(key: str, value: Any) -> str:
    text = str(value)
    if not text or any(char.isspace() or char == '"' for char in text):
        text = json.dumps(text)
    return f"{key}={text}"


def _pairs(**values: Any) -> list[str]:
    return [_pair(key, value) for key, value in values.items() if value is not None]


def _details(kind: str, data: dict[str, Any]) -> list[str]:
    """The interesting bits of an event's data, by event type."""
    if kind in ("task.created", "task.state.changed"):
        return _task_details(kind, data.get("task"))
    if kind == "task.progress":
        return _pairs(step=data.get("step"), bytes=_bytes(data))
    if kind == "task.completed":
        container = _field(data, "container", "name")
        return _pairs(container=container, state=_field(data, "container", "state"))
    if kind == "task.aborted":
        return _pairs(
            step=data.get("step"), code=data.get("code"), reason=data.get("reason")
        )
    if kind == "task.create.requested":
        image = data.get("image")
        if image is not None and data.get("tag") is not None:
            image = f"{image}:{data['tag']}"
        return _pairs(
            user=data.get("user"),
            type=data.get("type"),
            name=data.get("name"),
            image=image,
            source=data.get("source"),
        )
    if kind == "task.clone.requested":
        return _pairs(
            user=data.get("user"),
            type=data.get("type"),
            name=data.get("name"),
            clone_of=data.get("source_container"),
        )
    if kind == "task.purged":
        ids = data.get("ids")
        ids = ",".join(map(str, ids)) if isinstance(ids, list) else ids
        return _pairs(ids=ids, user=data.get("user"))
    return _pairs(user=data.get("user"))


def _task_details(kind: str, task: Any) -> list[str]:
    if not isinstance(task, dict):
        return []
    details = _pairs(state=f"{task.get('state')}/{task.get('detail_state')}")
    if kind == "task.created":
        details += _pairs(
            user=task.get("user"), type=task.get("type"), name=task.get("name")
        )
    details += _pairs(
        bytes=_bytes(task.get("progress")),
        container=_field(task, "container", "name"),
        error=_field(task, "error", "message"),
    )
    return details


def _bytes(progress: Any) -> str | None:
    current = _field(progress, "current")
    if current is None:
        return None
    total = _field(progress, "total")
    return str(current) if total is None else f"{current}/{total}"


def describe(envelope: Envelope) -> str:
    """One readable line: time, type, task id and what the event says."""
    moment = envelope.time.astimezone().strftime("%H:%M:%S.%f")[:-3]
    kind = envelope.type.removeprefix("ctstation.")
    ids = task_ids(envelope)
    task = f"task={ids[0]}" if ids else "task=-"
    details = _details(kind, envelope.data)
    return " ".join([moment, kind.ljust(_TYPE_WIDTH), task, *details])


def _declare_queue(channel: BlockingChannel, keys: Iterable[str]) -> str:
    channel.exchange_declare(EVENTS.name, exchange_type=EVENTS.type, durable=True)
    declared = channel.queue_declare(
        "",
        exclusive=True,
        auto_delete=True,
        arguments={"x-max-length": BACKLOG_LIMIT, "x-overflow": "drop-head"},
    )
    queue = str(declared.method.queue)
    for key in keys:
        channel.queue_bind(queue, EVENTS.name, routing_key=key)
    return queue


def events(
    channel: BlockingChannel, queue: str, warn: TextIO
) -> Iterator[tuple[Envelope, bytes]]:
    """Each readable event as it comes, with its raw body; garbage is warned of.

    Ends when Ctrl-C was pressed: the signal only sets a flag, looked at between
    messages, so that the connection is never interrupted mid-frame and closes
    cleanly (a KeyboardInterrupt inside pika could leave the close hanging).
    """
    stopping = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        yield from _consume(channel, queue, warn, stopping)
    finally:
        signal.signal(signal.SIGINT, previous)


def _consume(
    channel: BlockingChannel, queue: str, warn: TextIO, stopping: threading.Event
) -> Iterator[tuple[Envelope, bytes]]:
    messages = channel.consume(queue, auto_ack=True, inactivity_timeout=0.2)
    for method, _properties, body in messages:
        if stopping.is_set():
            return
        if method is None:
            continue  # no message within the inactivity timeout
        try:
            yield parse_event(body), body
        except MalformedEventError as error:
            first_line = str(error).splitlines()[0]
            print(
                f"warning: skipped an unreadable message "
                f"(routing key {method.routing_key!r}): {first_line}",
                file=warn,
                flush=True,
            )


def follow(
    connection: pika.BlockingConnection,
    keys: Iterable[str],
    event_filter: EventFilter,
    as_json: bool,
    count: int | None,
    replay: Iterable[tuple[Envelope, bytes]] = (),
) -> None:
    """Print the events that pass the filter until ``count`` of them or Ctrl-C.

    ``replay`` events (from the event log) are shown first. The live queue is
    bound before they are read, so nothing published meanwhile is missed; an
    event both replayed and received live is shown once.
    """
    keys = list(keys)
    channel = connection.channel()
    queue = _declare_queue(channel, keys)
    print(
        f"following {EVENTS.name} ({', '.join(keys)}); Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    shown = 0
    replayed: set[str] = set()
    live = events(channel, queue, sys.stderr)
    for source, (envelope, body) in chain(
        (("log", event) for event in replay), (("live", event) for event in live)
    ):
        if source == "log":
            replayed.add(envelope.id)
            if not any(topic_matches(key, _routing_key(envelope)) for key in keys):
                continue
        elif envelope.id in replayed:
            continue
        if not event_filter.matches(envelope):
            continue
        click.echo(_json_line(body) if as_json else describe(envelope))
        shown += 1
        if count is not None and shown >= count:
            return


def replay_from_log(since: int) -> Iterator[tuple[Envelope, bytes]]:
    """Events kept in the database after id ``since``, oldest first."""
    from ctstation import runtime
    from ctstation.config import Settings
    from orchestrator.events import EventLog

    log = EventLog(runtime.open_database(Settings()))
    while batch := log.after(since):
        for event in batch:
            since = event.id
            body = event.envelope.encode()
            yield parse_event(body), body


def _routing_key(envelope: Envelope) -> str:
    return envelope.type.removeprefix("ctstation.")


def topic_matches(pattern: str, key: str) -> bool:
    """Whether a routing key matches an AMQP topic pattern (``*`` one word,
    ``#`` zero or more), as the broker would bind it.

    Replayed events did not pass through a binding, so the pattern is applied
    here. kombu's matcher sits in its in-memory transport's internals and lets
    ``#`` match no word only at the end, hence these few lines of our own.
    """
    words, parts = key.split("."), pattern.split(".")

    def match(i: int, j: int) -> bool:
        if j == len(parts):
            return i == len(words)
        if parts[j] == "#":
            return any(match(k, j + 1) for k in range(i, len(words) + 1))
        if i == len(words):
            return False
        return parts[j] in ("*", words[i]) and match(i + 1, j + 1)

    return match(0, 0)


def _json_line(body: bytes) -> str:
    """The raw body, unless it spans lines: then the same JSON on one line."""
    text = body.decode("utf-8")
    if len(text.splitlines()) > 1:
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text


@click.command()
@click.option(
    "--key",
    "keys",
    multiple=True,
    default=["#"],
    show_default=True,
    metavar="PATTERN",
    help="Routing-key pattern to follow (repeatable), e.g. 'task.*'.",
)
@click.option("--task", "task_id", metavar="ID", help="Only events of this task.")
@click.option("--user", metavar="NAME", help="Only events of this user's tasks.")
@click.option("--json", "as_json", is_flag=True, help="One raw envelope per line.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    metavar="N",
    help="Exit after N events.",
)
@click.option(
    "--since",
    type=click.IntRange(min=0),
    metavar="ID",
    help="First replay the task events kept after event log id ID (needs "
    "CTSTATION_DATABASE_URL), then follow live.",
)
def tail(
    keys: tuple[str, ...],
    task_id: str | None,
    user: str | None,
    as_json: bool,
    count: int | None,
    since: int | None,
) -> None:
    """Follow the events on the bus live, one line per event.

    Without --since, only events published from now on are shown. Ctrl-C stops
    (status 0).
    """
    url = broker_url()
    replay = replay_from_log(since) if since is not None else ()
    try:
        connection = connect(url)
        try:
            follow(connection, keys, EventFilter(task_id, user), as_json, count, replay)
        finally:
            _close(connection)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one stops following: a clean exit
    except BrokenPipeError:
        # The reader went away (``| head``): silence the final flush of stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except AMQPError as error:
        raise click.ClickException(f"lost the broker: {error!r}") from error


def _close(connection: pika.BlockingConnection) -> None:
    # After Ctrl-C the connection may be mid-frame; closing the socket is enough
    # for the broker to delete the exclusive queue, so a failed close is ignored.
    try:
        if connection.is_open:
            connection.close()
    except (AMQPError, OSError):
        pass
