"""One create task, carried out on an engine, step by step.

A job reports every step it enters and the bytes of long steps, so the orchestrator
can show progress and can tell a working executor from a silent one. Whatever a
failed job made is removed before it reports the abort.
"""

import logging
import time
from collections.abc import Callable

from pydantic import BaseModel

from contract.events import EventType
from contract.images import ImageReferenceError, ImageSource, parse_reference
from contract.params import CreateParams
from contract.schemas import (
    ContainerSummary,
    Step,
    TaskAborted,
    TaskCompleted,
    TaskProgress,
    WorkCreate,
)
from executors.engine import ContainerRef, Engine, TaskMark
from executors.errors import ExecutorError, InvalidParamsError, NameTakenError

log = logging.getLogger(__name__)

# Publishes one event of the given type with the given data.
Emit = Callable[[EventType, BaseModel], None]

# At most one byte-progress report a second: enough for a progress bar, and a pull
# of many small layers does not flood the event stream.
PROGRESS_INTERVAL = 1.0

_FETCH_STEP = {
    ImageSource.DOCKERHUB: Step.PULLING,
    ImageSource.APPCENTER: Step.IMPORTING,
}


class CreateJob:
    def __init__(self, engine: Engine, work: WorkCreate, emit: Emit, executor: str):
        self.engine = engine
        self.work = work
        self.emit = emit
        self.executor = executor
        self.step = Step.INSPECTING
        self._last_report = 0.0
        self._bytes: tuple[int | None, int | None] | None = None

    def run(self) -> None:
        """Carry the task out; never raises, always ends with one final report."""
        task_id = self.work.task_id
        try:
            self._run()
        except ExecutorError as error:
            log.info("task %s failed at %s: %s", task_id, self.step, error.message)
            self._report_abort(error.code, error.message)
        except Exception as error:  # noqa: BLE001 - the task must end, whatever broke
            log.exception("task %s failed at %s", task_id, self.step)
            self._report_abort("internal_error", f"{type(error).__name__}: {error}")

    def _run(self) -> None:
        work = self.work
        self._enter(Step.INSPECTING)
        mark = TaskMark(work.task_id, work.task_uid, work.user)
        existing = self.engine.find_task_container(mark)
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
            self._finish(self._own_container(mark))
            return

        fetch_step = _FETCH_STEP.get(work.source)
        if fetch_step is not None:
            self._enter(fetch_step)
        local_image = self.engine.fetch_image(work.source, ref, self._report_bytes)
        if self._bytes is not None and self._bytes[1]:
            # The last figures of the step may have been held back by the rate
            # limit; the task list should end the step at its real total.
            self.emit(EventType.TASK_PROGRESS, self._progress(*self._bytes))

        self._enter(Step.CREATING)
        try:
            container = self.engine.create(mark, work.name, local_image, work.params)
        except NameTakenError:
            container = self._own_container(mark)
        self._finish(container)

    def _own_container(self, mark: TaskMark) -> ContainerRef:
        """The container holding our name, if a twin delivery of this task made it.

        Work may be delivered twice (a redelivery after a lost ack, a redispatch
        after a restart) and two executors may run it at once; the one that finds
        the name taken by its own task's container carries on with it.

        Raises:
            NameTakenError: the name belongs to a container of another task.
        """
        container = self.engine.find_task_container(mark)
        if container is None:
            raise NameTakenError(
                f"{self.work.type} container name {self.work.name!r} is in use"
            )
        log.info(
            "task %s: container %s was made by a twin delivery; resuming",
            mark.id,
            container.name,
        )
        return container

    def _finish(self, container: ContainerRef) -> None:
        """Start the container if asked, then report it; remove it on failure."""
        try:
            if self.work.params.start:
                self._enter(Step.STARTING)
                if self.engine.describe(container).state != "running":
                    self.engine.start(container)
            created = self.engine.describe(container)
        except Exception:
            log.info(
                "task %s: removing half-made container %s",
                self.work.task_id,
                container.name,
            )
            self.engine.remove(container)
            raise

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
                notes=created.notes,
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

    def _enter(self, step: Step) -> None:
        self.step = step
        self._last_report = time.monotonic()
        self.emit(EventType.TASK_PROGRESS, self._progress())

    def _report_bytes(self, current: int | None, total: int | None) -> None:
        self._bytes = (current, total)
        now = time.monotonic()
        if now - self._last_report < PROGRESS_INTERVAL:
            return
        self._last_report = now
        self.emit(EventType.TASK_PROGRESS, self._progress(current, total))

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


def precheck(engine: Engine, args: dict) -> dict:
    """Pre-inspection for the gateway: the image, and whether the request could work.

    Answers ``{"result": {"image": ...}}`` or ``{"error": {code, message, status}}``.
    """
    try:
        ref = parse_reference(args["image"], args.get("tag"))
        if args.get("params") is not None:
            params = CreateParams.model_validate(args["params"])
            engine.check_params(params, args.get("name"))
        info = engine.inspect_image(ImageSource(args["source"]), ref)
        name = args.get("name")
        if name and engine.is_name_taken(name):
            raise NameTakenError(f"{engine.type} container name {name!r} is in use")
    except ImageReferenceError as error:
        return {"error": InvalidParamsError(str(error)).to_dict()}
    except ExecutorError as error:
        return {"error": error.to_dict()}
    return {"result": {"image": info.to_dict()}}
