"""The Docker engine adapter: the ``executors.engine.Engine`` interface over docker-py.

Docker errors are translated here, once, by exception type and HTTP status:
404 -> ContainerNotFoundError or ImageNotFoundError, 409 on create ->
NameTakenError, 400 on create -> InvalidParamsError, any other APIError ->
EngineError carrying Docker's explanation.
"""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
import requests

from contract.images import ImageInfo, ImageRef, ImageSource
from contract.params import CreateParams
from executors.docker import params as docker_params
from executors.docker.registry import Registry, image_config
from executors.engine import (
    TASK_UID_LABEL,
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

TYPE = "docker"


class PullStreamError(Exception):
    """An ``error`` line in the daemon's pull stream; never leaves this module."""

    def __init__(self, reason: str, code: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


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

        Raises:
            EngineError: the daemon failed.
        """
        try:
            with _engine_errors():
                self._client.api.remove_container(ref.id, force=True, v=True)
        except ContainerNotFoundError:
            log.debug("container %s already gone", ref.name)

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


def follow_pull(lines: Iterable[dict[str, Any]], report: ProgressReport) -> None:
    """Read the daemon's pull stream to its end, reporting bytes over all layers.

    The expected total stays unknown (None) until every layer has announced its
    size; the last report, after the stream ends, has done equal to expected.

    The daemon answers 200 as soon as the pull begins; a failure later on (a layer
    blob the registry cannot serve) arrives as an ``error`` line inside the stream.

    Raises:
        PullStreamError: an error line, with the daemon's reason and code.
    """
    layers: dict[str, tuple[int, int | None]] = {}
    for line in lines:
        if "error" in line:
            detail = line.get("errorDetail") or {}
            raise PullStreamError(
                detail.get("message") or line["error"], detail.get("code")
            )
        if _track_layer(layers, line):
            report(*_progress(layers))
    # A last report says "complete", even for a pull that had nothing to download
    # (every layer present, or the image itself) and so sent no layer lines.
    done, _ = _progress(layers)
    report(done, done)


def _track_layer(
    layers: dict[str, tuple[int, int | None]], line: dict[str, Any]
) -> bool:
    """Update one layer's (current, total) from a pull line; True when it changed."""
    layer, status = line.get("id"), line.get("status", "")
    detail = line.get("progressDetail") or {}
    if not layer:
        return False
    if status == "Downloading" and "current" in detail:
        layers[layer] = (int(detail["current"]), detail.get("total"))
        return True
    if status == "Pulling fs layer":
        # Its size comes with its first "Downloading" line; until then the total
        # over all layers is unknown rather than too small.
        layers[layer] = (0, None)
        return True
    if status == "Already exists":
        # Shared with an image the daemon has: nothing of it to download.
        layers[layer] = (0, 0)
        return True
    if status in ("Download complete", "Pull complete") and layer in layers:
        total = layers[layer][1]
        layers[layer] = (total if total is not None else layers[layer][0], total)
        return True
    return False


def _progress(layers: dict[str, tuple[int, int | None]]) -> tuple[int, int | None]:
    done = sum(current for current, _ in layers.values())
    totals = [total for _, total in layers.values()]
    # One layer of unknown size makes the whole size unknown.
    expected = None if None in totals else sum(t for t in totals if t is not None)
    return done, expected


def published_ports(attrs: dict[str, Any]) -> list[dict[str, object]]:
    """Ports as bound now, or as requested while the container is not running.

    ``NetworkSettings.Ports`` holds the real bindings (a port Docker chose included)
    only while the container runs; before that ``HostConfig.PortBindings`` says what
    was asked.
    """
    bound = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    asked = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    ports: list[dict[str, object]] = []
    for key, bindings in sorted((bound or asked).items()):
        container_port, _, protocol = key.partition("/")
        for binding in bindings or []:
            host = binding.get("HostPort")
            ports.append(
                {
                    "container": int(container_port),
                    "protocol": protocol or "tcp",
                    "host_ip": binding.get("HostIp") or "0.0.0.0",
                    "host": int(host) if host else None,
                }
            )
    return ports


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
