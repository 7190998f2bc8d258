"""The event stream over HTTP, as Server-Sent Events, replayed from the event log.

A browser's EventSource resumes by itself with ``Last-Event-ID``; a script may pass
``?since=ID``. A plain user gets the events of their own tasks, an admin all.
"""

import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from gateway.auth import auth, current_user
from gateway.errors import BadRequestError
from gateway.services import services

api = Blueprint("events", __name__, url_prefix="/api/v1")

POLL_EVERY = 0.5
# A comment line now and then keeps proxies from closing an idle stream.
KEEPALIVE_EVERY = 15.0


@api.get("/events")
@auth.login_required
def stream_events() -> Any:
    last_id = _start_after()
    user = current_user()
    owner = None if user.is_admin else user.name
    follow = request.args.get("follow", "true").lower() not in ("0", "false", "no")
    events = stream_with_context(_events(last_id, owner, follow))
    return Response(
        events, mimetype="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _start_after() -> int:
    value = request.headers.get("Last-Event-ID") or request.args.get("since") or "0"
    if not (value.isascii() and value.isdigit()):
        raise BadRequestError("Last-Event-ID and since must be an event id")
    return int(value)


def _events(last_id: int, owner: str | None, follow: bool) -> Iterator[str]:
    log = services().events
    quiet = 0.0
    while True:
        batch = log.after(last_id, owner)
        for event in batch:
            last_id = event.id
            yield f"id: {event.id}\nevent: {event.type}\ndata: {event.envelope}\n\n"
        if batch:
            quiet = 0.0
            continue
        if not follow:
            return
        time.sleep(POLL_EVERY)
        quiet += POLL_EVERY
        if quiet >= KEEPALIVE_EVERY:
            quiet = 0.0
            yield ": keep-alive\n\n"
