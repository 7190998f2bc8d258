"""Tasks carried out on an engine, step by step: create, clone, remove.

A job reports every step it enters and the bytes of long steps, so the orchestrator
can show progress and can tell a working executor from a silent one. Whatever a
failed or cancelled job made is removed before it reports the abort. A cancelled
job notices at its next step or progress report.
"""

import logging
import time
from collections.abc import Callable

from kombu.exceptions import OperationalError
from pydantic import BaseModel

from contract.events import EventType
from contract.images import ImageSource, parse_reference
from contract.schemas import (
    ContainerSummary,
    Step,
    TaskAborted,
    TaskCompleted,
    TaskProgress,
    WorkClone,
    WorkCreate,
    WorkRemove,
)
from executors.engine import ContainerRef, CreatedContainer, Engine, TaskMark
from executors.errors import (
    ContainerNotFoundError,
    ExecutorError,
    NameTakenError,
    TaskCancelledError,
)

log = logging.getLogger(__name__)

# Publishes one event of the given type with the given data.
Emit = Callable[[EventType, BaseModel], None]
# Whether the task with this uid was cancelled.
IsCancelled = Callable[[str], bool]

# At most one byte-progress report a second: enough for a progress bar, and a pull
# of many small layers does not flood the event stream.
PROGRESS_INTERVAL = 1.0

_FETCH_STEP = {
    ImageSource.DOCKERHUB: Step.PULLING,
    ImageSource.APPCENTER: Step.IMPORTING,
}


class Job:
    """What every task job shares: reports, cancellation, the final word."""

    def __init__(
        self,
        engine: Engine,
        work: WorkCreate | WorkClone,
        emit: Emit,
        executor: str,
        is_cancelled: IsCancelled = lambda uid: False,
    ) -> None:
        self.engine = engine
        self.work = work
        self.emit = emit
        self.executor = executor
        self.is_cancelled = is_cancelled
        self.mark = TaskMark(work.task_id, work.task_uid, work.user, work.installation)
        self.step = Step.INSPECTING
        self._last_report = 0.0
        self._bytes: tuple[int | None, int | None] | None = None

    def run(self) -> None:
        """Carry the task out, ending with one final report.

        Raises:
            OperationalError: the broker stayed away past the executor's patience;
                nothing was reported, and the work is delivered again.
        """
        task_id = self.work.task_id
        try:
            self._check_cancelled()
            self._run()
        except ExecutorError as error:
            log.info("task %s failed at %s: %s", task_id, self.step, error.message)
            self._report_abort(error.code, error.message)
        except OperationalError:
            raise
        except Exception as error:  # noqa: BLE001 - the task must end, whatever broke
            log.exception("task %s failed at %s", task_id, self.step)
            self._report_abort("internal_error", f"{type(error).__name__}: {error}")

    def _run(self) -> None:
        raise NotImplementedError

    def _own_container(self) -> ContainerRef:
        """The container holding our name, if a twin delivery of this task made it.

        Work may be delivered twice (a redelivery after a lost ack, a redispatch
        after a restart) and two executors may run it at once; the one that finds
        the name taken by its own task's container carries on with it.

        Raises:
            NameTakenError: the name belongs to a container of another task.
        """
        container = self.engine.find_task_container(self.mark)
        if container is None:
            raise NameTakenError(
                f"{self.work.type} container name {self.work.name!r} is in use"
            )
        log.info(
            "task %s: container %s was made by a twin delivery; resuming",
            self.mark.id,
            container.name,
        )
        return container

    def _finish(self, container: ContainerRef, notes: tuple[str, ...] = ()) -> None:
        """Start the container if asked, then report it; remove it on failure."""
        try:
            if self._should_start():
                self._enter(Step.STARTING)
                if self.engine.describe(container).state != "running":
                    self.engine.start(container)
            created = self.engine.describe(container)
            self._check_cancelled()
        except Exception:
            log.info(
                "task %s: removing half-made container %s",
                self.work.task_id,
                container.name,
            )
            self.engine.remove(container)
            raise

        self._report_completed(created, [*notes, *created.notes])

    def _should_start(self) -> bool:
        raise NotImplementedError

    def _report_completed(self, created: CreatedContainer, notes: list[str]) -> None:
        summary = ContainerSummary(
            type=self.work.type,
            name=created.ref.name,
            id=created.ref.id,
            state=created.state,
            ports=created.ports,
        )
        self.emit(
            EventType.TASK_COMPLETED,
            TaskCompleted(
                task_id=self.work.task_id,
                container=summary,
                notes=notes,
                executor=self.executor,
            ),
        )
        log.info(
            "task %s done: %s %s is %s",
            self.work.task_id,
            self.work.type,
            created.ref.name,
            created.state,
        )

    def _check_cancelled(self) -> None:
        if self.is_cancelled(self.work.task_uid):
            raise TaskCancelledError(f"task {self.work.task_id} was cancelled")

    def _enter(self, step: Step) -> None:
        self._check_cancelled()
        self.step = step
        self._last_report = time.monotonic()
        self.emit(EventType.TASK_PROGRESS, self._progress())

    def _report_bytes(self, current: int | None, total: int | None) -> None:
        self._check_cancelled()
        self._bytes = (current, total)
        now = time.monotonic()
        if now - self._last_report < PROGRESS_INTERVAL:
            return
        self._last_report = now
        self.emit(EventType.TASK_PROGRESS, self._progress(current, total))

    def _report_final_bytes(self) -> None:
        # The last figures of a step may have been held back by the rate limit;
        # the task list should end the step at its real total.
        if self._bytes is not None and self._bytes[1]:
            self.emit(EventType.TASK_PROGRESS, self._progress(*self._bytes))

    def _progress(
        self, current: int | None = None, total: int | None = None
    ) -> TaskProgress:
        return TaskProgress(
            task_id=self.work.task_id,
            step=self.step,
            current=current,
            total=total,
            executor=self.executor,
        )

    def _report_abort(self, code: str, reason: str) -> None:
        self.emit(
            EventType.TASK_ABORTED,
            TaskAborted(
                task_id=self.work.task_id,
                step=self.step,
                code=code,
                reason=reason,
                executor=self.executor,
            ),
        )


class CreateJob(Job):
    work: WorkCreate

    def _should_start(self) -> bool:
        return self.work.params.start

    def _run(self) -> None:
        work = self.work
        self._enter(Step.INSPECTING)
        existing = self.engine.find_task_container(self.mark)
        if existing is not None:
            log.info(
                "task %s: found container %s made earlier; resuming",
                work.task_id,
                existing.name,
            )
            self._finish(existing)
            return

        ref = parse_reference(work.image, work.tag)
        self.engine.check_params(work.params, work.name)
        self.engine.inspect_image(work.source, ref)
        if self.engine.is_name_taken(work.name):
            self._finish(self._own_container())
            return

        fetch_step = _FETCH_STEP.get(work.source)
        if fetch_step is not None:
            self._enter(fetch_step)
        local_image = self.engine.fetch_image(work.source, ref, self._report_bytes)
        self._report_final_bytes()

        self._enter(Step.CREATING)
        try:
            container = self.engine.create(
                self.mark, work.name, local_image, work.params
            )
        except NameTakenError:
            container = self._own_container()
        self._finish(container)


class CloneJob(Job):
    """A copy of an existing container: LXD instance copy, Docker commit + create."""

    work: WorkClone

    def _should_start(self) -> bool:
        return self.work.start

    def _run(self) -> None:
        work = self.work
        self._enter(Step.INSPECTING)
        existing = self.engine.find_task_container(self.mark)
        if existing is not None:
            self._finish(existing)
            return

        source = self.engine.find_container(work.source_container)
        is_own = source.owner == work.user and source.installation == work.installation
        if not (work.admin or is_own):
            raise ContainerNotFoundError(
                f"no {work.type} container {work.source_container!r}"
            )
        if self.engine.is_name_taken(work.name):
            self._finish(self._own_container())
            return

        self._enter(Step.CREATING)
        try:
            clone = self.engine.clone(self.mark, source.ref, work.name, work.ports)
        except NameTakenError:
            self._finish(self._own_container())
            return
        self._finish(clone.ref, tuple(clone.notes))


def remove_task_container(engine: Engine, work: WorkRemove) -> None:
    """Remove the container a task made, if it still exists."""
    mark = TaskMark(work.task_id, work.task_uid, work.user, work.installation)
    container = engine.find_task_container(mark)
    if container is None:
        return
    engine.remove(container)
    log.info(
        "task %s: removed container %s (%s)", work.task_id, container.name, work.reason
    )
