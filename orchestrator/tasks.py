"""Tasks in SQL: every state change is one conditional UPDATE.

``UPDATE ... WHERE id = :id AND state IN (states that may lead here)`` either moves
the task or changes nothing, so concurrent writers (orchestrator replicas on one
PostgreSQL, a late executor report, the silence sweeper) never lose an update and
never reopen a finished task.
"""

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contract.schemas import CloneRequested, CreateRequested, Step
from orchestrator.db import Task
from orchestrator.errors import NameReservedError
from orchestrator.states import FINAL_STATES, TaskState, states_leading_to

AnyRequest = CreateRequested | CloneRequested


def task_to_dict(task: Task) -> dict[str, Any]:
    """The task as the API shows it: the draft's fields first, then the extras."""
    progress = None
    if task.progress_current is not None or task.progress_total is not None:
        progress = {"current": task.progress_current, "total": task.progress_total}
    return {
        "id": task.id,
        "init": _epoch(task.init),
        "start": _epoch(task.start),
        "end": _epoch(task.end),
        "result": task.result,
        "from": task.source,
        "state": task.state,
        "detail_state": task.detail_state,
        "type": task.type,
        "user": task.user,
        "image": task.image,
        "tag": task.tag,
        "create_params": task.create_params,
        "kind": task.kind,
        "name": task.name,
        "progress": progress,
        "container": task.container,
        "error": task.error,
        "notes": task.notes or [],
    }


def _epoch(moment: float | None) -> int | None:
    # Whole seconds, as the draft asks; flooring keeps init <= start <= end true.
    return None if moment is None else int(moment)


class TaskStore:
    """Reads and conditional writes of tasks."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(
        self, request: AnyRequest, request_id: str, init: float
    ) -> tuple[Task, bool]:
        """Store a new waiting task, or find the one this request made before.

        Returns the task and whether it was created now.

        Raises:
            NameReservedError: an unfinished task of the type holds the name.
        """
        existing = self.find_by_request(request_id) or self.find_by_key(
            request.user, request.idempotency_key
        )
        if existing:
            return existing, False
        self._check_name_free(request)

        task = self._new_task(request, request_id, init)
        try:
            with self._sessions.begin() as session:
                session.add(task)
        except IntegrityError:
            # Another orchestrator replica stored this request, or another
            # request for the same name, meanwhile.
            found = self.find_by_request(request_id) or self.find_by_key(
                request.user, request.idempotency_key
            )
            if found is None:
                self._check_name_free(request)
                raise
            return found, False
        return task, True

    def add_rejected(
        self, request: AnyRequest, request_id: str, init: float, reason: str
    ) -> Task:
        """Store a request that was refused before any work, as an aborted task."""
        existing = self.find_by_request(request_id)
        if existing:
            return existing
        task = self._new_task(request, request_id, init)
        task.state = TaskState.ABORTED
        task.result = 1
        task.end = init
        task.detail_state = f"rejected: {reason}"[:1024]
        task.error = {"code": "rejected", "step": Step.QUEUED, "message": reason}
        with self._sessions.begin() as session:
            session.add(task)
        return task

    def _check_name_free(self, request: AnyRequest) -> None:
        query = select(Task.id).where(
            Task.type == request.type,
            Task.name == request.name,
            Task.state.in_([TaskState.WAITING, TaskState.RUNNING]),
        )
        with self._sessions() as session:
            holder = session.scalar(query)
        if holder is not None:
            raise NameReservedError(request.type, request.name, holder)

    def _new_task(self, request: AnyRequest, request_id: str, init: float) -> Task:
        task = Task(
            request_id=request_id,
            type=request.type,
            name=request.name,
            user=request.user,
            state=TaskState.WAITING,
            detail_state=Step.QUEUED,
            init=init,
            # When it was stored, whatever the request's own clock said: the
            # waiting timeout counts from here.
            heartbeat_at=time.time(),
            idempotency_key=request.idempotency_key,
        )
        if isinstance(request, CloneRequested):
            # A clone's "image" is the container it copies, and its params are
            # those a clone takes.
            task.kind = task.source = "clone"
            task.image, task.tag = request.source_container, ""
            task.create_params = request.model_dump(
                mode="json", include={"start", "ports"}
            )
        else:
            task.kind = "create"
            task.source = request.source
            task.image, task.tag = request.image, request.tag
            task.create_params = request.params.model_dump(mode="json")
        return task

    def find_by_request(self, request_id: str) -> Task | None:
        with self._sessions() as session:
            query = select(Task).where(Task.request_id == request_id)
            return session.scalars(query).first()

    def find_by_key(self, user: str, key: str | None) -> Task | None:
        """The task a request with this idempotency key made, if any."""
        if key is None:
            return None
        query = select(Task).where(Task.user == user, Task.idempotency_key == key)
        with self._sessions() as session:
            return session.scalars(query).first()

    def get(self, task_id: int) -> Task | None:
        with self._sessions() as session:
            return session.get(Task, task_id)

    def search(
        self,
        user: str | None = None,
        state: str | None = None,
        type: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Sequence[Task]:
        query = select(Task).order_by(Task.id)
        if user is not None:
            query = query.where(Task.user == user)
        if state is not None:
            query = query.where(Task.state == state)
        if type is not None:
            query = query.where(Task.type == type)
        query = query.offset(offset).limit(limit)
        with self._sessions() as session:
            return session.scalars(query).all()

    def begin_running(self, task_id: int, step: Step, now: float) -> bool:
        """Move a waiting task to running; False when it was not waiting."""
        return self._move(
            task_id, TaskState.RUNNING, start=now, detail_state=step, heartbeat_at=now
        )

    def record_progress(
        self,
        task_id: int,
        step: Step,
        current: int | None,
        total: int | None,
        now: float,
    ) -> bool:
        """Note the step and bytes of a running task; False when it is not running.

        A report without figures keeps the last ones, so a finished pull or import
        still shows how much it moved.
        """
        values: dict[str, Any] = {"detail_state": step, "heartbeat_at": now}
        if current is not None or total is not None:
            values.update(progress_current=current, progress_total=total)
        query = (
            update(Task)
            .where(Task.id == task_id, Task.state == TaskState.RUNNING)
            .values(**values)
        )
        return self._execute(query)

    def complete(
        self, task_id: int, container: dict[str, Any], notes: list[str], now: float
    ) -> bool:
        self.begin_running(task_id, Step.CREATING, now)
        return self._move(
            task_id,
            TaskState.COMPLETED,
            result=0,
            end=now,
            detail_state=Step.DONE,
            container=container,
            notes=notes,
        )

    def cancel(self, task_id: int, now: float) -> bool:
        """Abort a waiting or running task as cancelled by its user."""
        return self._move(
            task_id,
            TaskState.ABORTED,
            result=1,
            end=now,
            detail_state=Step.CANCELLED,
            error={
                "code": "cancelled",
                "step": Step.CANCELLED,
                "message": "cancelled by the user",
            },
        )

    def delete_finished(self, task_id: int) -> bool:
        """Delete one completed or aborted task; False when it is not finished."""
        query = delete(Task).where(
            Task.id == task_id, Task.state.in_(list(FINAL_STATES))
        )
        with self._sessions.begin() as session:
            return session.execute(query).rowcount == 1

    def abort(
        self, task_id: int, step: str, code: str, reason: str, now: float
    ) -> bool:
        """Abort a waiting or running task; the reason becomes its ``detail_state``."""
        return self._move(
            task_id,
            TaskState.ABORTED,
            result=1,
            end=now,
            detail_state=f"{step} failed: {reason}"[:1024],
            error={"code": code, "step": step, "message": reason},
        )

    def unfinished(self) -> list[Task]:
        """Waiting and running tasks, oldest first."""
        query = (
            select(Task)
            .where(Task.state.in_([TaskState.WAITING, TaskState.RUNNING]))
            .order_by(Task.id)
        )
        with self._sessions() as session:
            return list(session.scalars(query).all())

    def silent_tasks(self, running_before: float, waiting_before: float) -> list[Task]:
        """Running tasks not heard of since ``running_before``, and waiting tasks
        queued before ``waiting_before``."""
        query = select(Task).where(
            ((Task.state == TaskState.RUNNING) & (Task.heartbeat_at < running_before))
            | ((Task.state == TaskState.WAITING) & (Task.heartbeat_at < waiting_before))
        )
        with self._sessions() as session:
            return list(session.scalars(query).all())

    def purge_finished(self, user: str | None = None) -> list[int]:
        """Delete completed and aborted tasks (only ``user``'s when given).

        Safe beside the orchestrator: a finished task is never written again.
        """
        query = delete(Task).where(Task.state.in_(list(FINAL_STATES)))
        if user is not None:
            query = query.where(Task.user == user)
        with self._sessions.begin() as session:
            ids = session.scalars(query.returning(Task.id)).all()
        return sorted(ids)

    def count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count(Task.id))) or 0

    def _move(self, task_id: int, target: TaskState, **values: Any) -> bool:
        query = (
            update(Task)
            .where(Task.id == task_id, Task.state.in_(states_leading_to(target)))
            .values(state=target, **values)
        )
        return self._execute(query)

    def _execute(self, query: Any) -> bool:
        with self._sessions.begin() as session:
            return session.execute(query).rowcount == 1
