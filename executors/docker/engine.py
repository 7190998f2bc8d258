"""The Docker engine adapter: the ``executors.engine.Engine`` interface over docker-py.

Docker errors are translated here, once, by exception type and HTTP status:
404 -> ContainerNotFoundError or ImageNotFoundError (EngineError once a clone's
source is found), 409 on create or clone -> NameTakenError, 400 on create ->
InvalidParamsError, any other APIError -> EngineError carrying Docker's
explanation.
"""

import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import docker
import docker.errors
import requests

from contract.images import ImageInfo, ImageRef, ImageSource
from contract.params import CreateParams, PortMapping
from executors.docker import clone as docker_clone
from executors.docker import params as docker_params
from executors.docker.details import TYPE, container_details, published_ports
from executors.docker.pull import PullStreamError, follow_pull
from executors.docker.registry import Registry, image_config
from executors.engine import (
    TASK_UID_LABEL,
    ContainerDetails,
    ContainerRef,
    CreatedContainer,
    ProgressReport,
    TaskMark,
)
from executors.errors import (
    ContainerNotFoundError,
    EngineError,
    ExecutorError,
    ImageNotFoundError,
    ImageSourceError,
    InvalidParamsError,
    NameTakenError,
)

log = logging.getLogger(__name__)

# A name or an id (prefix); anything else never names a container, and would not
# stay one path segment of the daemon's URL.
_NAME_OR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class DockerEngine:
    """Creates Docker containers through one daemon.

    Args:
        client: a connected ``docker.DockerClient``.
        registry_url: the registry that stands for Docker Hub in pre-inspection, with
            its scheme; pulls go through the daemon and its own mirror settings.
        insecure_registries: registry hosts spoken to over plain HTTP.
    """

    type = TYPE

    def __init__(
        self,
        client: docker.DockerClient,
        registry_url: str,
        insecure_registries: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        self._registry = Registry(registry_url, insecure_registries)

    def check_params(self, params: CreateParams, name: str | None = None) -> None:
        """Refuse a param Docker cannot honour; no engine I/O. ``name`` is unused.

        Raises:
            InvalidParamsError: see ``executors.docker.params.check_params``.
        """
        docker_params.check_params(params)

    def inspect_image(self, source: ImageSource, ref: ImageRef) -> ImageInfo:
        """Describe a local image, or a Docker Hub one without pulling it.

        Raises:
            ImageNotFoundError: no such image or tag.
            ImageSourceError: the daemon or the registry cannot be reached or failed.
        """
        if source == ImageSource.DOCKERHUB:
            return self._registry.inspect(ref)
        if source != ImageSource.LOCAL:
            raise ImageSourceError(f"docker cannot create from source {source}")

        with _image_errors(ref):
            image = self._client.images.get(str(ref))
        return local_image_info(ref, image.attrs)

    def fetch_image(
        self, source: ImageSource, ref: ImageRef, report: ProgressReport
    ) -> str:
        """Pull a Docker Hub image through the daemon; a local one is already there.

        Raises:
            ImageNotFoundError: the registry has no such image.
            ImageSourceError: the pull failed; the message is the registry's reason.
        """
        if source == ImageSource.LOCAL:
            return str(ref)
        if source != ImageSource.DOCKERHUB:
            raise ImageSourceError(f"docker cannot create from source {source}")

        log.debug("pulling %s", ref)
        with _image_errors(ref):
            lines = self._client.api.pull(
                ref.repository, tag=ref.tag, stream=True, decode=True
            )
            try:
                follow_pull(lines, report)
            except PullStreamError as exc:
                raise self._pull_error(ref, exc) from exc
        return str(ref)

    def is_name_taken(self, name: str) -> bool:
        """Whether any container, made by ctstation or not, has this name.

        Raises:
            EngineError: the daemon failed.
        """
        # The name filter is a regular expression over "/name"; it also matches
        # longer names, so the exact name is compared afterwards.
        with _engine_errors():
            found = self._client.api.containers(all=True, filters={"name": name})
        return any(f"/{name}" in container.get("Names", []) for container in found)

    def find_task_container(self, task: TaskMark) -> ContainerRef | None:
        """The container a task made earlier, found by its task uid label.

        Raises:
            EngineError: the daemon failed.
        """
        label = f"{TASK_UID_LABEL}={task.uid}"
        with _engine_errors():
            found = self._client.api.containers(all=True, filters={"label": label})
        if not found:
            return None
        if len(found) > 1:
            log.warning("task %s: %d containers carry its label", task.id, len(found))
        container = found[0]
        name = container["Names"][0].lstrip("/")
        return ContainerRef(TYPE, name, container["Id"], task.id)

    def create(
        self,
        task: TaskMark,
        name: str,
        local_image: str,
        params: CreateParams,
    ) -> ContainerRef:
        """Create, but do not start, a container labelled with the task id.

        Raises:
            NameTakenError: the name was taken meanwhile.
            InvalidParamsError: a param Docker refuses (unknown network, missing
                host path, ...).
            ImageNotFoundError: the image is gone.
            EngineError: the daemon refused for another reason.
        """
        self.check_params(params)
        self._check_network(params.network)
        kwargs = docker_params.create_kwargs(task, name, local_image, params)

        with _create_errors(name, local_image):
            container = self._client.containers.create(**kwargs)
        log.debug("task %s: created docker container %s", task.id, container.id)
        return ContainerRef(TYPE, name, container.id, task.id)

    def start(self, ref: ContainerRef) -> None:
        """Start the container.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: the daemon could not start it (a host port already taken,
                an unknown network, ...), with Docker's explanation.
        """
        with _container_errors(ref):
            self._client.api.start(ref.id)

    def describe(self, ref: ContainerRef) -> CreatedContainer:
        """The container's state and its published ports as Docker bound them.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: the daemon failed.
        """
        with _container_errors(ref):
            attrs = self._client.api.inspect_container(ref.id)
        return CreatedContainer(
            ref=ref,
            state=str(attrs["State"]["Status"]),
            ports=published_ports(attrs),
        )

    def remove(self, ref: ContainerRef) -> None:
        """Force-remove the container with its anonymous volumes; missing is fine.

        A clone's committed image goes with the last container that uses it.

        Raises:
            EngineError: the daemon failed.
        """
        try:
            with _engine_errors():
                image = self._client.api.inspect_container(ref.id)["Config"]["Image"]
                self._client.api.remove_container(ref.id, force=True, v=True)
        except ContainerNotFoundError:
            log.debug("container %s already gone", ref.name)
            return
        if image.startswith(f"{docker_clone.CLONE_REPOSITORY}/"):
            self._remove_clone_image(image)

    def _remove_clone_image(self, image: str) -> None:
        try:
            self._client.api.remove_image(image)
        except docker.errors.APIError as exc:
            # 409: another container (a clone of the clone) still uses it.
            log.debug("clone image %s kept: %s", image, _explanation(exc))

    def list_containers(self) -> list[ContainerDetails]:
        """Every container of the daemon, in every state, made by ctstation or not.

        Raises:
            EngineError: the daemon failed.
        """
        with _engine_errors():
            found = self._client.api.containers(all=True)
        listed = []
        for summary in found:
            try:
                listed.append(self.find_container(summary["Id"]))
            except ContainerNotFoundError:
                log.debug("container %s went away while listed", summary["Id"])
        return listed

    def find_container(self, name_or_id: str) -> ContainerDetails:
        """One container by name, full id or unique id prefix.

        Raises:
            ContainerNotFoundError: there is none.
            EngineError: the daemon failed, or the prefix is not unique.
        """
        missing = ContainerNotFoundError(
            f"no docker container with the name or id {name_or_id!r}"
        )
        if not _NAME_OR_ID.match(name_or_id):
            raise missing
        try:
            with _engine_errors():
                attrs = self._client.api.inspect_container(name_or_id)
        except ContainerNotFoundError as exc:
            raise missing from exc
        return container_details(attrs)

    def stop(self, ref: ContainerRef, timeout: float = 10) -> None:
        """Stop with SIGTERM, killing after ``timeout`` seconds; stopped is fine.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: the daemon failed.
        """
        with _container_errors(ref):
            self._client.api.stop(ref.id, timeout=_seconds(timeout))

    def restart(self, ref: ContainerRef, timeout: float = 10) -> None:
        """Stop (as ``stop``) and start again; a stopped container just starts.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: the daemon could not stop or start it.
        """
        with _container_errors(ref):
            self._client.api.restart(ref.id, timeout=_seconds(timeout))

    def clone(
        self,
        task: TaskMark,
        source: ContainerRef,
        name: str,
        ports: list[PortMapping] | None,
    ) -> CreatedContainer:
        """Commit ``source`` to an image and create, not start, a container of it.

        The clone has the source's configuration (``executors.docker.clone``), its
        binds and named volumes (shared, not copied) and our labels for ``task``.

        ``remove`` deletes the committed image with the last container using it.

        Raises:
            ContainerNotFoundError: the source is gone.
            NameTakenError: the name is taken.
            EngineError: the daemon refused the commit or the create.
        """
        with _container_errors(source):
            attrs = self._client.api.inspect_container(source.id)
        if self.is_name_taken(name):
            raise NameTakenError(f"container name {name!r} is already in use")

        image = self._commit(task, source, name)
        made: ContainerRef | None = None
        try:
            made = self._create_clone(task, name, image, attrs, ports)
            self._connect_networks(made, attrs)
            created = self.describe(made)
        except ExecutorError:
            self._discard_clone(task, made, image)
            raise
        log.debug("task %s: cloned %s as %s", task.id, source.name, name)

        notes = docker_clone.clone_notes(
            source.name, attrs, published_ports(attrs), ports
        )
        return replace(created, notes=notes)

    def _commit(self, task: TaskMark, source: ContainerRef, name: str) -> str:
        """Commit the source's filesystem to the clone's image; return its name.

        The daemon pauses a running source while it commits and resumes it after,
        so the source stays running, and its files are taken at one instant.
        """
        repository, tag = docker_clone.clone_image(name, task)
        with _container_errors(source):
            # Our labels on the image name the clone's task, not the source's.
            self._client.api.commit(
                source.id,
                repository=repository,
                tag=tag,
                conf={"Labels": task.labels()},
            )
        return f"{repository}:{tag}"

    def _create_clone(
        self,
        task: TaskMark,
        name: str,
        image: str,
        attrs: dict[str, Any],
        ports: list[PortMapping] | None,
    ) -> ContainerRef:
        kwargs = docker_clone.clone_kwargs(task, name, image, attrs, ports)
        with _clone_errors(name):
            container = self._client.containers.create(**kwargs)
        return ContainerRef(TYPE, name, container.id, task.id)

    def _connect_networks(self, ref: ContainerRef, attrs: dict[str, Any]) -> None:
        """Connect the clone to the networks its source had besides the first."""
        with _clone_errors(ref.name):
            for network in docker_clone.extra_networks(attrs):
                self._client.api.connect_container_to_network(ref.id, network)

    def _discard_clone(
        self, task: TaskMark, made: ContainerRef | None, image: str
    ) -> None:
        # The failure that brought us here is what the caller must see; one of
        # this cleanup is only logged.
        try:
            with _engine_errors():
                if made is not None:
                    self._client.api.remove_container(made.id, force=True, v=True)
                self._client.api.remove_image(image)
        except ExecutorError as exc:
            log.warning("task %s: failed clone %s left behind: %s", task.id, image, exc)

    def _pull_error(self, ref: ImageRef, error: PullStreamError) -> ExecutorError:
        if error.code == 404:
            return ImageNotFoundError(f"pull of {ref} failed: {error.reason}")
        problem = self._registry_problem(ref)
        if problem is None:
            return ImageSourceError(f"pull of {ref} failed: {error.reason}")
        return ImageSourceError(
            f"pull of {ref} failed: {problem}; the daemon reported: {error.reason}"
        )

    def _registry_problem(self, ref: ImageRef) -> str | None:
        # A daemon with a registry mirror reports the error of its fallback to
        # Docker Hub (offline here), not why the mirror failed; the registry
        # itself can tell which layer it cannot serve.
        try:
            return self._registry.find_unservable_layer(ref)
        except ExecutorError as exc:
            log.debug("no registry reason for the failed pull of %s: %s", ref, exc)
            return None

    def _check_network(self, network: str | None) -> None:
        # Docker accepts an unknown network at create and fails only at start; asking
        # first lets the request be refused as the user's mistake it is.
        if network is None or network in ("bridge", "host", "none"):
            return
        try:
            with _engine_errors():
                self._client.networks.get(network)
        except ContainerNotFoundError as exc:
            raise InvalidParamsError(f"docker network {network!r} not found") from exc


def local_image_info(ref: ImageRef, attrs: dict[str, Any]) -> ImageInfo:
    """Pre-inspection answer from ``docker image inspect`` data."""
    repo_digests = attrs.get("RepoDigests") or []
    # The manifest digest where the image came from a registry (what Docker Hub
    # shows); an imported or built image has only its content id.
    digest = repo_digests[0].partition("@")[2] if repo_digests else attrs.get("Id")
    return ImageInfo(
        repository=ImageSource.LOCAL.value,
        image=ref.repository,
        tag=ref.tag,
        digest=digest,
        size=attrs.get("Size"),
        architecture=attrs.get("Architecture"),
        os=attrs.get("Os"),
        created=attrs.get("Created"),
        description=attrs.get("Comment") or None,
        config=image_config(attrs.get("Config") or {}),
    )


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Docker failures as executor errors; a 404 becomes ContainerNotFoundError."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise ContainerNotFoundError(_explanation(exc)) from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"docker: {_explanation(exc)}") from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise EngineError(f"docker engine unreachable: {exc}") from exc


@contextmanager
def _container_errors(ref: ContainerRef) -> Iterator[None]:
    try:
        with _engine_errors():
            yield
    except ContainerNotFoundError as exc:
        raise ContainerNotFoundError(f"docker container {ref.name} not found") from exc


@contextmanager
def _clone_errors(name: str) -> Iterator[None]:
    """Failures while the clone is made: its name taken, or anything else.

    A 404 here is the committed image or the source's network gone, never the
    source itself, so it is an EngineError rather than ContainerNotFoundError.
    """
    try:
        yield
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise NameTakenError(f"container name {name!r} is already in use") from exc
        raise EngineError(f"docker: {_explanation(exc)}") from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise EngineError(f"docker engine unreachable: {exc}") from exc


@contextmanager
def _image_errors(ref: ImageRef) -> Iterator[None]:
    """Failures of the daemon while it looks up or pulls an image."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise ImageNotFoundError(f"image {ref} not found in the docker engine") from exc
    except docker.errors.APIError as exc:
        raise ImageSourceError(f"image {ref}: {_explanation(exc)}") from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise ImageSourceError(f"docker engine unreachable: {exc}") from exc


@contextmanager
def _create_errors(name: str, image: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.NotFound as exc:
        # The network was checked before; what create cannot find is the image.
        raise ImageNotFoundError(
            f"image {image} not found: {_explanation(exc)}"
        ) from exc
    except docker.errors.APIError as exc:
        raise _create_refusal(name, exc) from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise EngineError(f"docker engine unreachable: {exc}") from exc


def _create_refusal(name: str, exc: docker.errors.APIError) -> ExecutorError:
    if exc.status_code == 409:
        return NameTakenError(f"container name {name!r} is already in use")
    if exc.status_code == 400:
        return InvalidParamsError(f"docker refused the params: {_explanation(exc)}")
    return EngineError(f"docker: {_explanation(exc)}")


def _explanation(exc: docker.errors.DockerException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def _seconds(timeout: float) -> int:
    """The daemon's stop timeout is whole seconds; a fraction rounds up."""
    return max(0, math.ceil(timeout))
