"""The interface both executors implement, and the records they return.

An engine adapter knows one container engine (LXD or Docker) and nothing about
messaging or task state; ``executors.service`` drives it from the work queue. Every
method may raise only ``executors.errors.ExecutorError`` subclasses.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from contract.images import ImageInfo, ImageRef, ImageSource
from contract.params import CreateParams, PortMapping

# The label (Docker) or user config key (LXD, as "user.<label>") that ties a
# container to the task that made it; an executor given a task again finds it by it.
TASK_LABEL = "ctstation.task"
TASK_UID_LABEL = "ctstation.task-uid"
OWNER_LABEL = "ctstation.user"
# Which ctstation made the container: user names mean something only within one
# installation, and several may share an engine.
INSTALLATION_LABEL = "ctstation.installation"
# Every label of ours starts with it; a user's label that does is not copied.
OUR_LABEL_PREFIX = "ctstation."

# Called by long steps (pull, import) with bytes done and bytes expected, either
# unknown as None. It may be called often; the caller rate-limits what it publishes.
ProgressReport = Callable[[int | None, int | None], None]


@dataclass(frozen=True)
class TaskMark:
    """What ties a container to the task that made it, and to its owner.

    Task ids count from 1 in every database, so two ctstation installations that
    share an engine share ids too; the uid (the id of the requested event, a UUID)
    is what an executor matches when it looks for a container it made before.
    """

    id: int
    uid: str
    user: str
    installation: str = ""

    def labels(self) -> dict[str, str]:
        labels = {
            TASK_LABEL: str(self.id),
            TASK_UID_LABEL: self.uid,
            OWNER_LABEL: self.user,
        }
        if self.installation:
            labels[INSTALLATION_LABEL] = self.installation
        return labels


def user_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a user gave a container, without ours."""
    return {
        key: value
        for key, value in labels.items()
        if not key.startswith(OUR_LABEL_PREFIX)
    }


def task_of(labels: Mapping[str, str]) -> tuple[int | None, str | None, str | None]:
    """Task id, task uid and owner that our labels name, each None when absent."""
    task_id = labels.get(TASK_LABEL, "")
    return (
        int(task_id) if task_id.isascii() and task_id.isdigit() else None,
        labels.get(TASK_UID_LABEL),
        labels.get(OWNER_LABEL),
    )


@dataclass(frozen=True)
class ContainerRef:
    """A container as an engine names it."""

    type: str
    name: str
    id: str
    task_id: int | None = None


@dataclass(frozen=True)
class CreatedContainer:
    """The result of a create: the container and what was decided on the way."""

    ref: ContainerRef
    state: str
    ports: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def dropped_ports_note(
    source: str, ports: list[dict[str, object]], replaced: bool
) -> str | None:
    """What a clone says of its source's host port bindings, None if it had none.

    ``ports`` are the source's, as ``describe`` reports them; ``replaced`` says
    whether the clone was given ports of its own instead.
    """
    if not ports:
        return None
    bindings = ", ".join(
        f"{port['container']}/{port['protocol']}->"
        f"{port['host_ip']}:{port['host'] or 'any'}"
        for port in ports
    )
    if replaced:
        return f"host port bindings of {source} were replaced: {bindings}"
    return f"host port bindings of {source} were not copied: {bindings}"


@dataclass(frozen=True)
class ContainerDetails:
    """A container as the container API shows it, made by ctstation or not.

    ``task_id``, ``task_uid`` and ``owner`` come from our labels and are None for a
    container that ctstation did not make. ``config`` holds what a clone copies:
    ``env``, ``command``, ``entrypoint``, ``working_dir``, ``labels`` (the user's,
    without ours), ``cpu``, ``memory``, ``autostart``, ``hostname``, ``network``,
    ``volumes`` and ``privileged``, each None or empty where unset.
    """

    ref: ContainerRef
    state: str
    image: str | None = None
    created: str | None = None
    addresses: list[str] = field(default_factory=list)
    ports: list[dict[str, object]] = field(default_factory=list)
    config: dict[str, object] = field(default_factory=dict)
    task_id: int | None = None
    task_uid: str | None = None
    owner: str | None = None
    installation: str | None = None


class Engine(Protocol):
    """One container engine, as the executor service uses it."""

    type: str

    def inspect_image(self, source: ImageSource, ref: ImageRef) -> ImageInfo:
        """Describe an image without fetching it.

        Raises:
            ImageNotFoundError: the source has no such image or tag.
            ImageSourceError: the source cannot be reached.
        """

    def check_params(self, params: CreateParams, name: str | None = None) -> None:
        """Refuse a param this engine cannot honour, without any engine I/O.

        A check that needs the container's name (an LXD hostname must equal it) is
        left to ``create``, which knows the name.

        Raises:
            InvalidParamsError: a param this engine cannot honour; the message says
                which and why.
        """

    def is_name_taken(self, name: str) -> bool:
        """Whether any container, made by ctstation or not, has this name."""

    def find_task_container(self, task: TaskMark) -> ContainerRef | None:
        """The container a task made earlier, found by its task uid label."""

    def fetch_image(
        self, source: ImageSource, ref: ImageRef, report: ProgressReport
    ) -> str:
        """Make the image available locally and return what ``create`` takes.

        Raises:
            ImageNotFoundError, ImageSourceError: the pull or import failed; the
                message is the source's reason.
        """

    def create(
        self,
        task: TaskMark,
        name: str,
        local_image: str,
        params: CreateParams,
    ) -> ContainerRef:
        """Create, but do not start, a container labelled with ``task.labels()``.

        Raises:
            NameTakenError: the name was taken meanwhile.
            InvalidParamsError: a param this engine cannot honour.
            EngineError: the engine refused.
        """

    def start(self, ref: ContainerRef) -> None:
        """Start the container. Raises EngineError with the engine's reason."""

    def describe(self, ref: ContainerRef) -> CreatedContainer:
        """The container's state and published ports as the engine sees them now."""

    def remove(self, ref: ContainerRef) -> None:
        """Stop and remove the container; a missing container is not an error."""

    def list_containers(self) -> list[ContainerDetails]:
        """Every container of the engine, in every state, made by ctstation or not."""

    def find_container(self, name_or_id: str) -> ContainerDetails:
        """One container by name, or by id (Docker: full id or unique prefix).

        Raises:
            ContainerNotFoundError: there is none.
        """

    def stop(self, ref: ContainerRef, timeout: float = 10) -> None:
        """Stop gracefully, killing after ``timeout`` seconds; stopped is fine.

        Raises:
            EngineError: the engine's reason.
        """

    def restart(self, ref: ContainerRef, timeout: float = 10) -> None:
        """Stop (as ``stop``) and start again; a stopped container just starts."""

    def clone(
        self,
        task: TaskMark,
        source: ContainerRef,
        name: str,
        ports: list[PortMapping] | None,
    ) -> CreatedContainer:
        """Create, but do not start, a copy of ``source`` named ``name``.

        The copy has the source's configuration and our labels for ``task``, and
        the source is left in the state it was. Host port bindings cannot be
        shared: the copy gets ``ports`` when given, else none, and ``notes`` says
        what was dropped. Whatever a failed clone made is removed before it
        raises.

        Raises:
            ContainerNotFoundError: the source is gone.
            NameTakenError: the name was taken meanwhile.
            EngineError: the engine refused.
        """
