"""The LXD engine adapter: the ``executors.engine.Engine`` interface over pylxd.

Only pylxd's ``instances`` API is used, never ``containers``: Incus, which some of the
project's machines run instead of LXD, has no legacy ``/1.0/containers`` path.

LXD errors are translated here, once, by exception type: ``NotFound`` ->
ContainerNotFoundError (or "no such image" during a lookup), any other
``LXDAPIException`` (a failed operation included) -> EngineError carrying LXD's
message, or ImageSourceError while images are read or imported. A failed create
whose name another instance holds is NameTakenError, decided by looking at that
instance rather than at the message; a failed copy likewise.
"""

import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pylxd
import pylxd.exceptions
import pylxd.models
import requests

from contract.images import DEFAULT_TAG, ImageInfo, ImageRef, ImageSource
from contract.params import CreateParams, PortMapping
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
    NameTakenError,
)
from executors.lxc import clone as lxc_clone
from executors.lxc import params as lxc_params
from executors.lxc.catalog import Catalog, CatalogEntry, catalog_image_info
from executors.lxc.details import TYPE, container_details

log = logging.getLogger(__name__)

TASK_UID_KEY = f"user.{TASK_UID_LABEL}"

_FINGERPRINT_PREFIX = re.compile(r"^[0-9a-f]{6,64}$")
# An instance name is a hostname; anything else never names one, and would not
# stay one path segment of LXD's URL.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


class LxdEngine:
    """Creates LXD system containers, from local images or the app center catalog.

    Args:
        client: a connected ``pylxd.Client``.
        catalog: the app center catalog.
    """

    type = TYPE

    def __init__(self, client: pylxd.Client, catalog: Catalog) -> None:
        self._client = client
        self._catalog = catalog

    def check_params(self, params: CreateParams, name: str | None = None) -> None:
        """Refuse a param an LXD container cannot honour; no engine I/O.

        ``name``, where the caller knows it, lets a hostname be checked against it;
        ``create`` always passes it.

        Raises:
            InvalidParamsError: see ``executors.lxc.params.check_params``.
        """
        lxc_params.check_params(params, name)

    def inspect_image(self, source: ImageSource, ref: ImageRef) -> ImageInfo:
        """Describe a local image, or a catalog one without downloading it.

        Raises:
            ImageNotFoundError: no such alias, fingerprint or catalog entry.
            ImageSourceError: LXD or the catalog cannot be reached or failed.
        """
        if source == ImageSource.APPCENTER:
            return catalog_image_info(ref, self._catalog.find(ref.repository, ref.tag))
        if source != ImageSource.LOCAL:
            raise ImageSourceError(f"lxc cannot create from source {source}")
        return local_image_info(ref, self._local_image(ref))

    def fetch_image(
        self, source: ImageSource, ref: ImageRef, report: ProgressReport
    ) -> str:
        """Return the fingerprint to create from, importing a catalog image if needed.

        Raises:
            ImageNotFoundError: no such local image or catalog entry.
            ImageSourceError: the download or the import failed, with the reason.
        """
        if source == ImageSource.LOCAL:
            return str(self._local_image(ref).fingerprint)
        if source != ImageSource.APPCENTER:
            raise ImageSourceError(f"lxc cannot create from source {source}")

        entry = self._catalog.find(ref.repository, ref.tag)
        if self._has_image(entry.fingerprint):
            log.debug("image %s already in lxd as %s", ref, entry.fingerprint)
            return entry.fingerprint
        metadata, rootfs = self._catalog.download(entry, report)
        self._import(entry, metadata, rootfs)
        return entry.fingerprint

    def is_name_taken(self, name: str) -> bool:
        """Whether any instance, made by ctstation or not, has this name.

        Raises:
            EngineError: LXD failed.
        """
        with _engine_errors():
            return bool(self._client.instances.exists(name))

    def find_task_container(self, task: TaskMark) -> ContainerRef | None:
        """The container a task made earlier, found by its ``user.`` task key.

        Raises:
            EngineError: LXD failed.
        """
        with _engine_errors():
            instances = self._client.instances.all(recursion=1)
        for instance in instances:
            if (instance.config or {}).get(TASK_UID_KEY) == task.uid:
                return ContainerRef(TYPE, instance.name, instance.name, task.id)
        return None

    def create(
        self,
        task: TaskMark,
        name: str,
        local_image: str,
        params: CreateParams,
    ) -> ContainerRef:
        """Create, but do not start, a container tagged with the task id.

        Raises:
            NameTakenError: another instance has the name.
            InvalidParamsError: a param LXD cannot honour.
            EngineError: LXD refused or the create operation failed.
        """
        self.check_params(params, name)
        config = lxc_params.instance_config(task, name, local_image, params)

        try:
            with _engine_errors():
                self._client.instances.create(config, wait=True)
        except EngineError as exc:
            # A taken name fails either at once (409) or inside LXD's operation,
            # where no status code tells it apart from other failures: look.
            if self._is_held_by_other(name, task):
                raise NameTakenError(f"instance name {name!r} is in use") from exc
            raise
        self._confirm_exists(name)
        log.debug("task %s: created lxc container %s", task.id, name)
        return ContainerRef(TYPE, name, name, task.id)

    def start(self, ref: ContainerRef) -> None:
        """Start the container and wait for LXD's operation.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: LXD could not start it (a host port already taken, ...).
        """
        instance = self._instance(ref)
        with _engine_errors():
            instance.start(wait=True)

    def describe(self, ref: ContainerRef) -> CreatedContainer:
        """The container's state (lower case) and the ports its proxies publish.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: LXD failed.
        """
        instance = self._instance(ref)
        devices = instance.expanded_devices or instance.devices or {}
        return CreatedContainer(
            ref=ref,
            state=str(instance.status).lower(),
            ports=lxc_params.published_ports(devices),
        )

    def remove(self, ref: ContainerRef) -> None:
        """Stop (forced) and delete the container; a missing one is fine.

        Raises:
            EngineError: LXD failed.
        """
        try:
            instance = self._instance(ref)
            with _engine_errors():
                if instance.status != "Stopped":
                    instance.stop(force=True, wait=True)
                instance.delete(wait=True)
        except ContainerNotFoundError:
            log.debug("lxc container %s already gone", ref.name)

    def list_containers(self) -> list[ContainerDetails]:
        """Every instance of LXD, in every state, made by ctstation or not.

        Raises:
            EngineError: LXD failed.
        """
        with _engine_errors():
            instances = self._client.instances.all(recursion=1)
        listed = []
        for instance in instances:
            try:
                listed.append(self._details(instance))
            except ContainerNotFoundError:
                log.debug("lxc container %s went away while listed", instance.name)
        return listed

    def find_container(self, name_or_id: str) -> ContainerDetails:
        """One container by name (an LXD instance's name is its id).

        Raises:
            ContainerNotFoundError: there is none.
            EngineError: LXD failed.
        """
        if not _NAME.match(name_or_id):
            raise ContainerNotFoundError(f"no lxc container named {name_or_id!r}")
        try:
            with _engine_errors():
                instance = self._client.instances.get(name_or_id)
        except ContainerNotFoundError as exc:
            raise ContainerNotFoundError(
                f"no lxc container named {name_or_id!r}"
            ) from exc
        return self._details(instance)

    def stop(self, ref: ContainerRef, timeout: float = 10) -> None:
        """Shut down cleanly, forcing the stop after ``timeout`` seconds.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: LXD could not stop it even by force.
        """
        instance = self._instance(ref)
        if instance.status == "Stopped":
            return
        # Whole seconds; 0 stops at once (LXD kills), as Docker's 0 does.
        seconds = max(0, math.ceil(timeout))
        try:
            with _engine_errors():
                instance.stop(timeout=seconds, force=False, wait=True)
        except EngineError as exc:
            # LXD fails the operation when the init did not shut down in time (or
            # ignores the request, as a frozen one does); the state decides.
            if self._instance(ref).status == "Stopped":
                return
            log.debug("lxc container %s: forcing the stop: %s", ref.name, exc)
            with _engine_errors():
                instance.stop(force=True, wait=True)

    def restart(self, ref: ContainerRef, timeout: float = 10) -> None:
        """Stop (as ``stop``) and start again; a stopped container just starts.

        Raises:
            ContainerNotFoundError: the container is gone.
            EngineError: LXD could not stop or start it.
        """
        self.stop(ref, timeout)
        self.start(ref)

    def clone(
        self,
        task: TaskMark,
        source: ContainerRef,
        name: str,
        ports: list[PortMapping] | None,
    ) -> CreatedContainer:
        """Copy ``source`` (running or not) and leave the copy stopped.

        The copy has the source's files, config, devices and profiles, our
        ``user.`` keys for ``task``, and no host port binding but ``ports``.

        Known limitation: a running source is copied while it runs, so its files
        are not taken at one instant; a service writing meanwhile may find its
        data in the copy torn, as after a crash (snapshot-capable storage pools,
        unlike ``dir``, do not have this problem).

        Raises:
            InvalidParamsError: a port without a host port.
            ContainerNotFoundError: the source is gone.
            NameTakenError: the name is taken.
            EngineError: LXD refused the copy or the change of its devices.
        """
        if ports:
            self.check_params(CreateParams(ports=ports))
        original = self._instance(source)
        if self.is_name_taken(name):
            raise NameTakenError(f"instance name {name!r} is in use")

        self._copy(task, original, name)
        ref = ContainerRef(TYPE, name, name, task.id)
        try:
            self._replace_proxies(ref, ports)
            created = self.describe(ref)
        except ExecutorError:
            self._discard_copy(task, name)
            raise
        log.debug("task %s: copied %s as %s", task.id, source.name, name)

        devices = original.expanded_devices or original.devices or {}
        return replace(
            created, notes=lxc_clone.clone_notes(source.name, devices, ports)
        )

    def _copy(self, task: TaskMark, original: pylxd.models.Instance, name: str) -> None:
        """Copy ``original`` as ``name``, with our keys for ``task``; wait for it."""
        request = lxc_clone.copy_request(
            task, name, original.name, list(original.profiles)
        )
        try:
            with _engine_errors():
                self._client.instances.create(request, wait=True)
        except ExecutorError as exc:
            # As in create, a failure inside LXD's operation carries no status
            # that tells why: look at the name and at the source.
            self._discard_copy(task, name)
            if self._is_held_by_other(name, task):
                raise NameTakenError(f"instance name {name!r} is in use") from exc
            if not self.is_name_taken(original.name):
                raise ContainerNotFoundError(
                    f"lxc container {original.name} not found"
                ) from exc
            raise
        self._confirm_exists(name)

    def _replace_proxies(
        self, ref: ContainerRef, ports: list[PortMapping] | None
    ) -> None:
        copy = self._instance(ref)
        devices = lxc_clone.clone_devices(
            copy.devices or {}, copy.expanded_devices or {}, ports
        )
        if devices == copy.devices:
            return
        copy.devices = devices
        with _engine_errors():
            copy.save(wait=True)

    def _discard_copy(self, task: TaskMark, name: str) -> None:
        # Only a copy of ours is removed, never what another made under the
        # name; and the failure that brought us here is what the caller must
        # see, so one of this cleanup is only logged.
        try:
            if not self._is_held_by_other(name, task):
                self.remove(ContainerRef(TYPE, name, name, task.id))
        except ExecutorError as exc:
            log.warning("task %s: failed copy %s left behind: %s", task.id, name, exc)

    def _details(self, instance: pylxd.models.Instance) -> ContainerDetails:
        network_state = None
        # Only a started container has interfaces; a frozen one keeps them.
        if instance.status in ("Running", "Frozen"):
            with _engine_errors():
                network_state = instance.state().network
        return container_details(instance, network_state)

    def _instance(self, ref: ContainerRef) -> pylxd.models.Instance:
        try:
            with _engine_errors():
                return self._client.instances.get(ref.name)
        except ContainerNotFoundError as exc:
            raise ContainerNotFoundError(f"lxc container {ref.name} not found") from exc

    def _confirm_exists(self, name: str) -> None:
        # Success means a container to start; an operation that reported success
        # without leaving one is a failure of the engine.
        if not self.is_name_taken(name):
            raise EngineError(f"lxd reported {name} created, but it does not exist")

    def _is_held_by_other(self, name: str, task: TaskMark) -> bool:
        try:
            with _engine_errors():
                instance = self._client.instances.get(name)
        except ContainerNotFoundError:
            return False
        return (instance.config or {}).get(TASK_UID_KEY) != task.uid

    def _local_image(self, ref: ImageRef) -> pylxd.models.Image:
        """The local image an alias or fingerprint prefix names.

        A tag other than ``latest`` is first looked up as the alias ``image:tag``;
        otherwise ``image`` is the alias or fingerprint, and a tag other than
        ``latest`` must then be the image's release or version property, so that
        ``busybox:1.30`` never silently yields the image of another release.

        Raises:
            ImageNotFoundError: no such alias or fingerprint, or another release.
            ImageSourceError: LXD failed.
        """
        name = ref.repository
        if ref.tag != DEFAULT_TAG:
            image = self._image_by_alias(f"{name}:{ref.tag}")
            if image is not None:
                return image
        image = self._image_by_alias(name) or self._image_by_fingerprint(name)
        if image is None or not _has_release(image, ref.tag):
            raise ImageNotFoundError(f"image {ref} not found in lxd")
        return image

    def _image_by_alias(self, alias: str) -> pylxd.models.Image | None:
        with _image_errors():
            try:
                return self._client.images.get_by_alias(alias)
            except pylxd.exceptions.NotFound:
                return None

    def _image_by_fingerprint(self, prefix: str) -> pylxd.models.Image | None:
        if not _FINGERPRINT_PREFIX.match(prefix):
            return None
        with _image_errors():
            try:
                return self._client.images.get(prefix)
            except pylxd.exceptions.NotFound:
                return None

    def _has_image(self, fingerprint: str) -> bool:
        return self._image_by_fingerprint(fingerprint) is not None

    def _import(self, entry: CatalogEntry, metadata: bytes, rootfs: bytes) -> None:
        """Import a split image into LXD and wait for its operation.

        Raises:
            ImageSourceError: LXD refused the tarballs, with LXD's reason.
        """
        log.debug("importing %s:%s into lxd", entry.name, entry.tag)
        try:
            with _image_errors():
                self._client.images.create(rootfs, metadata=metadata)
        except ImageSourceError:
            # Another executor may have imported the same image meanwhile; LXD
            # then refuses ours as a duplicate, and the image is there all the same.
            if self._has_image(entry.fingerprint):
                return
            raise


def _has_release(image: pylxd.models.Image, tag: str) -> bool:
    properties = image.properties or {}
    return tag == DEFAULT_TAG or tag in (
        properties.get("release"),
        properties.get("version"),
    )


def local_image_info(ref: ImageRef, image: pylxd.models.Image) -> ImageInfo:
    """Pre-inspection answer for an image LXD has."""
    properties = image.properties or {}
    return ImageInfo(
        repository=ImageSource.LOCAL.value,
        image=ref.repository,
        tag=ref.tag,
        fingerprint=image.fingerprint,
        size=image.size,
        architecture=image.architecture,
        os=properties.get("os"),
        created=image.created_at,
        description=properties.get("description"),
    )


@contextmanager
def _engine_errors() -> Iterator[None]:
    """LXD failures as executor errors; a 404 becomes ContainerNotFoundError."""
    try:
        yield
    except pylxd.exceptions.NotFound as exc:
        raise ContainerNotFoundError(f"lxd: {exc}") from exc
    except pylxd.exceptions.LXDAPIException as exc:
        raise EngineError(f"lxd: {exc}") from exc
    except (pylxd.exceptions.ClientConnectionFailed, requests.RequestException) as exc:
        raise EngineError(f"lxd unreachable: {exc}") from exc


@contextmanager
def _image_errors() -> Iterator[None]:
    """LXD failures while it looks up or imports an image, as ImageSourceError."""
    try:
        yield
    except pylxd.exceptions.LXDAPIException as exc:
        raise ImageSourceError(f"lxd: {exc}") from exc
    except (pylxd.exceptions.ClientConnectionFailed, requests.RequestException) as exc:
        raise ImageSourceError(f"lxd unreachable: {exc}") from exc
