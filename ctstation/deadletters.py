"""``ctstation dead-letters``: read, requeue and purge what no consumer could handle.

Reading without taking: every message is fetched with ``basic.get`` and manual
acks, and all are held unacked until the last is read; closing the channel then
gives them back to the broker, which puts each back at its place. Holding them all
(rather than nacking each at once) is what ends the loop: a message given back
right away would be the next one fetched. At most as many messages as the queue
held at the start are read, so dead letters arriving meanwhile cannot keep a
listing going; while a listing runs, the messages it holds are invisible to other
readers.

Indexes count from 1 at the head of the queue. New dead letters join at the tail,
so an index read in a listing stays valid until a message is requeued or purged.

Requeueing publishes a copy with publisher confirms and only then acks the dead
letter: a crash in between leaves the message in both places (at least once),
which every handler tolerates.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import (
    AMQPError,
    ChannelClosedByBroker,
    NackError,
    UnroutableError,
)

from contract.bus import REASON_HEADER
from contract.topology import DEAD_LETTERS, EVENTS, WORK
from ctstation.tail import broker_url, connect

QUEUE_HEADER = "x-ctstation-queue"
ROUTING_KEY_HEADER = "x-ctstation-routing-key"
WORK_QUEUE_PREFIX = "ctstation.work."
BODY_PREVIEW = 200

# Headers that record a past dead-lettering: ours (contract.bus.dead_letter) and
# the broker's own, for a message it dead-lettered after its delivery limit.
_DEATH_HEADERS = ("x-death", "x-delivery-count")
_DEATH_PREFIXES = ("x-ctstation-", "x-first-death-", "x-last-death-")


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue and where it had come from."""

    index: int
    delivery_tag: int
    reason: str
    queue: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties

    @classmethod
    def read(
        cls,
        index: int,
        method: pika.spec.Basic.GetOk,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> "DeadLetter":
        headers = properties.headers or {}
        # The broker's own dead-lettering (past a queue's delivery limit) records
        # the queue and the reason in x-death rather than in our headers.
        death = _first_death(headers)
        reason = headers.get(REASON_HEADER) or death.get("reason") or ""
        queue = headers.get(QUEUE_HEADER) or death.get("queue") or ""
        routing_key = headers.get(ROUTING_KEY_HEADER)
        if routing_key is None:
            routing_key = (death.get("routing-keys") or [""])[0]
        return cls(
            index=index,
            delivery_tag=method.delivery_tag,
            reason=_text(reason),
            queue=_text(queue),
            routing_key=_text(routing_key),
            body=body,
            properties=properties,
        )

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def destination(self) -> tuple[str, str]:
        """The exchange and routing key that lead back to the queue it left.

        Raises:
            click.ClickException: the message does not say where it came from.
        """
        if self.queue.startswith(WORK_QUEUE_PREFIX):
            return WORK.name, self.queue.removeprefix(WORK_QUEUE_PREFIX)
        if not self.queue or not self.routing_key:
            raise click.ClickException(
                f"dead letter #{self.index} does not say which queue it left"
            )
        return EVENTS.name, self.routing_key

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reason": self.reason,
            "queue": self.queue,
            "routing_key": self.routing_key,
            "content_type": self.properties.content_type,
            "body": self.text,
        }


def _first_death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
        return deaths[-1]  # the broker lists the most recent death first
    return {}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@contextmanager
def _channel() -> Iterator[BlockingChannel]:
    """A channel on the configured broker; closing it returns unacked messages."""
    connection = connect(broker_url())
    try:
        yield connection.channel()
    except ChannelClosedByBroker as error:
        raise click.ClickException(f"the broker refused: {error.reply_text}") from error
    except AMQPError as error:
        raise click.ClickException(f"lost the broker: {error!r}") from error
    finally:
        if connection.is_open:
            connection.close()


def read_all(channel: BlockingChannel, limit: int | None = None) -> list[DeadLetter]:
    """The messages at the head of the queue, held unacked, oldest first.

    ``limit`` stops after that many; at most the queue's length at the start are
    read in any case.
    """
    declared = channel.queue_declare(DEAD_LETTERS.name, passive=True)
    count = declared.method.message_count
    if limit is not None:
        count = min(count, limit)
    letters: list[DeadLetter] = []
    for index in range(1, count + 1):
        method, properties, body = channel.basic_get(DEAD_LETTERS.name, auto_ack=False)
        if method is None:
            break  # another reader took the rest
        letters.append(DeadLetter.read(index, method, properties, body))
    return letters


def _preview(text: str) -> str:
    shown = text[:BODY_PREVIEW]
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in shown)
    return shown + ("..." if len(text) > BODY_PREVIEW else "")


def _print_letter(letter: DeadLetter) -> None:
    origin = f"{letter.queue or '?'}, routing key {letter.routing_key or '?'}"
    reason = (letter.reason or "(none recorded)").replace("\n", "\n" + " " * 11)
    click.echo(f"#{letter.index} from {origin}")
    click.echo(f"   reason: {reason}")
    click.echo(f"   body:   {_preview(letter.text)}")


@click.group("dead-letters")
def dead_letters() -> None:
    """Read, requeue or purge the messages in ctstation.dead-letters."""


@dead_letters.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def list_letters(as_json: bool) -> None:
    """Print every dead letter, leaving the queue as it was."""
    with _channel() as channel:
        letters = read_all(channel)
    if as_json:
        document = {
            "queue": DEAD_LETTERS.name,
            "count": len(letters),
            "messages": [letter.as_dict() for letter in letters],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return

    click.echo(f"{len(letters)} message(s) in {DEAD_LETTERS.name}")
    for letter in letters:
        _print_letter(letter)


@dead_letters.command("requeue")
@click.argument("index", type=click.IntRange(min=1))
def requeue(index: int) -> None:
    """Send dead letter INDEX back to where it came from and drop it here.

    Events go back to ctstation.events with their routing key; work goes back to
    ctstation.work, to the queue of its container type. The headers that recorded
    the dead-lettering are dropped.
    """
    with _channel() as channel:
        letters = read_all(channel, limit=index)
        if len(letters) < index:
            raise click.ClickException(
                f"no dead letter #{index}: the queue holds {len(letters)}"
            )
        letter = letters[-1]
        exchange, routing_key = letter.destination()
        channel.confirm_delivery()
        try:
            # mandatory: a copy that no queue would take fails here rather than
            # vanishing, and the dead letter stays.
            channel.basic_publish(
                exchange,
                routing_key,
                letter.body,
                properties=_fresh_properties(letter.properties),
                mandatory=True,
            )
        except (UnroutableError, NackError) as error:
            raise click.ClickException(
                f"{exchange} did not take #{index} with routing key "
                f"{routing_key!r} ({type(error).__name__}); it stays here"
            ) from error
        channel.basic_ack(letter.delivery_tag)
        # The others held on this channel go back when it closes.
    click.echo(f"requeued #{index} to {exchange} with routing key {routing_key}")


def _fresh_properties(old: pika.BasicProperties) -> pika.BasicProperties:
    headers = {
        key: value
        for key, value in (old.headers or {}).items()
        if key not in _DEATH_HEADERS and not key.startswith(_DEATH_PREFIXES)
    }
    return pika.BasicProperties(
        content_type=old.content_type,
        content_encoding=old.content_encoding,
        headers=headers or None,
        delivery_mode=pika.DeliveryMode.Persistent,
        correlation_id=old.correlation_id,
        message_id=old.message_id,
        timestamp=old.timestamp,
        type=old.type,
    )


@dead_letters.command("purge")
@click.option("--yes", is_flag=True, help="Confirm: the messages are lost for good.")
def purge(yes: bool) -> None:
    """Delete every dead letter."""
    with _channel() as channel:
        count = channel.queue_declare(DEAD_LETTERS.name, passive=True)
        if not yes:
            raise click.UsageError(
                f"purging deletes {count.method.message_count} message(s) for good; "
                "add --yes to confirm"
            )
        purged = channel.queue_purge(DEAD_LETTERS.name)
    click.echo(f"purged {purged.method.message_count} message(s)")
