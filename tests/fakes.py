"""An in-memory engine for unit tests of the pipeline: no Docker, no LXD."""

import itertools
import threading
from dataclasses import dataclass, field

from contract.images import ImageInfo, ImageRef, ImageSource
from contract.params import CreateParams, PortMapping
from executors.engine import (
    ContainerDetails,
    ContainerRef,
    CreatedContainer,
    ProgressReport,
    TaskMark,
)
from executors.errors import (
    ContainerNotFoundError,
    EngineError,
    ImageNotFoundError,
    ImageSourceError,
    NameTakenError,
)


@dataclass
class FakeContainer:
    ref: ContainerRef
    uid: str | None
    state: str = "stopped"
    owner: str | None = None
    installation: str | None = None


@dataclass
class FakeEngine:
    """Knows the images in ``images``; records every container it makes."""

    type: str = "docker"
    images: set[str] = field(default_factory=lambda: {"busybox:latest"})
    broken_pulls: dict[str, str] = field(default_factory=dict)
    failing_starts: dict[str, str] = field(default_factory=dict)
    pull_gate: threading.Event | None = None
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=itertools.count)

    def check_params(self, params: CreateParams, name: str | None = None) -> None:
        return None

    def inspect_image(self, source: ImageSource, ref: ImageRef) -> ImageInfo:
        key = f"{ref.repository}:{ref.tag}"
        if key not in self.images:
            raise ImageNotFoundError(f"image {ref.repository}:{ref.tag} not found")
        return ImageInfo(repository=source, image=ref.repository, tag=ref.tag)

    def is_name_taken(self, name: str) -> bool:
        return name in self.containers

    def find_task_container(self, task: TaskMark) -> ContainerRef | None:
        for container in self.containers.values():
            if container.uid == task.uid:
                return container.ref
        return None

    def fetch_image(
        self, source: ImageSource, ref: ImageRef, report: ProgressReport
    ) -> str:
        if self.pull_gate is not None:
            self.pull_gate.wait(10)
        key = f"{ref.repository}:{ref.tag}"
        if key in self.broken_pulls:
            raise ImageSourceError(self.broken_pulls[key])
        if source != ImageSource.LOCAL:  # a local image moves no bytes
            report(50, 100)
        return key

    def create(
        self, task: TaskMark, name: str, local_image: str, params: CreateParams
    ) -> ContainerRef:
        ref = ContainerRef(self.type, name, f"id{next(self._ids)}", task.id)
        self.containers[name] = FakeContainer(
            ref, task.uid, owner=task.user, installation=task.installation
        )
        return ref

    def start(self, ref: ContainerRef) -> None:
        if ref.name in self.failing_starts:
            raise EngineError(self.failing_starts[ref.name])
        self.containers[ref.name].state = "running"

    def describe(self, ref: ContainerRef) -> CreatedContainer:
        return CreatedContainer(ref, self.containers[ref.name].state)

    def remove(self, ref: ContainerRef) -> None:
        if self.containers.pop(ref.name, None) is not None:
            self.removed.append(ref.name)

    def list_containers(self) -> list[ContainerDetails]:
        return [self._details(c) for c in self.containers.values()]

    def find_container(self, name_or_id: str) -> ContainerDetails:
        for container in self.containers.values():
            if name_or_id in (container.ref.name, container.ref.id):
                return self._details(container)
        raise ContainerNotFoundError(f"no {self.type} container {name_or_id!r}")

    def stop(self, ref: ContainerRef, timeout: float = 10) -> None:
        self.containers[ref.name].state = "stopped"

    def restart(self, ref: ContainerRef, timeout: float = 10) -> None:
        self.containers[ref.name].state = "running"

    def clone(
        self,
        task: TaskMark,
        source: ContainerRef,
        name: str,
        ports: list[PortMapping] | None,
    ) -> CreatedContainer:
        if name in self.containers:
            raise NameTakenError(f"name {name!r} is in use")
        ref = ContainerRef(self.type, name, f"id{next(self._ids)}", task.id)
        self.containers[name] = FakeContainer(
            ref, task.uid, owner=task.user, installation=task.installation
        )
        return CreatedContainer(ref, "stopped", notes=["ports were not copied"])

    def add_foreign(self, name: str, state: str = "running") -> None:
        """A container ctstation did not make."""
        ref = ContainerRef(self.type, name, f"id{next(self._ids)}")
        self.containers[name] = FakeContainer(ref, None, state=state, owner=None)

    def _details(self, container: FakeContainer) -> ContainerDetails:
        return ContainerDetails(
            container.ref,
            container.state,
            task_id=container.ref.task_id,
            task_uid=container.uid,
            owner=container.owner,
            installation=container.installation,
        )
