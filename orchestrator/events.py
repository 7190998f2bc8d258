"""The event log: published events kept in SQL for replay, for a retention period.

The orchestrator appends every task event it publishes; followers (``ctstation tail
--since``, the gateway's Server-Sent Events) read after the last id they saw.
"""

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from contract.events import Envelope
from orchestrator.db import Event


class EventLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(self, envelope: Envelope, task_id: int | None, user: str | None) -> int:
        """Keep an event; answers its id in the log."""
        event = Event(
            event_id=envelope.id,
            type=envelope.type,
            task_id=task_id,
            user=user,
            time=envelope.time.timestamp(),
            envelope=envelope.to_json(),
        )
        with self._sessions.begin() as session:
            session.add(event)
        return event.id

    def after(
        self, last_id: int, user: str | None = None, limit: int = 100
    ) -> Sequence[Event]:
        """Events after ``last_id``, oldest first; only ``user``'s when given."""
        query = select(Event).where(Event.id > last_id).order_by(Event.id).limit(limit)
        if user is not None:
            query = query.where(Event.user == user)
        with self._sessions() as session:
            return session.scalars(query).all()

    def forget_before(self, moment: float) -> int:
        """Delete events older than ``moment``; answers how many went."""
        with self._sessions.begin() as session:
            return session.execute(delete(Event).where(Event.time < moment)).rowcount
