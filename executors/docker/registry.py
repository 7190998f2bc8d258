"""Pre-inspection of Docker Hub images through the registry's HTTP API v2.

Reading the manifest and the config blob describes an image (digest, size, platform,
default config) without pulling its layers, so a create request can be answered or
refused before any download.

The HTTP side is python-dxf: it speaks the v2 API, answers the anonymous Bearer token
challenge (``WWW-Authenticate``) that Docker Hub sends, and checks the digest of every
manifest and blob it reads. This module adds what dxf leaves to its caller: the
``library/`` namespace of official images, the choice of one platform from a manifest
list, and the translation of HTTP and dxf failures into executor errors.
"""

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import dxf
import dxf.exceptions
import requests

from contract.images import ImageConfig, ImageInfo, ImageRef, ImageSource
from executors.errors import ImageNotFoundError, ImageSourceError

log = logging.getLogger(__name__)

DOCKER_HUB_URL = "https://registry-1.docker.io"

# Names a user may write for Docker Hub itself; they all mean the configured registry.
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# The executors create containers for the host they run on; this is the only platform
# the project's machines have.
PLATFORM_OS = "linux"
PLATFORM_ARCHITECTURE = "amd64"

REQUEST_TIMEOUT = 30.0

MANIFEST_LIST_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
IMAGE_MANIFEST_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    }
)

DxfFactory = Callable[..., dxf.DXF]


@dataclass(frozen=True)
class Endpoint:
    """Where one repository lives: registry host, scheme and path inside it."""

    host: str
    insecure: bool
    repository: str


class Registry:
    """Reads image manifests and configs from a Docker registry (API v2).

    Args:
        registry_url: the registry that stands for Docker Hub, with its scheme.
        insecure_registries: hosts (``host:port``) spoken to over plain HTTP when a
            reference names them.
        dxf_factory: builds the dxf client; tests substitute it.
    """

    def __init__(
        self,
        registry_url: str = DOCKER_HUB_URL,
        insecure_registries: tuple[str, ...] = (),
        dxf_factory: DxfFactory = dxf.DXF,
    ) -> None:
        parts = urlsplit(registry_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"registry url needs http(s)://host: {registry_url!r}")
        self._hub_host = parts.netloc
        self._hub_insecure = parts.scheme == "http"
        self._insecure = frozenset(insecure_registries)
        self._dxf_factory = dxf_factory

    def endpoint(self, ref: ImageRef) -> Endpoint:
        """Where ``ref`` lives, following Docker's naming rules."""
        if ref.registry is None or ref.registry in DOCKER_HUB_HOSTS:
            # Official images are the "library" namespace of Docker Hub: "busybox"
            # is served as "library/busybox", by the real Hub and by its mirrors.
            repository = ref.name if "/" in ref.name else f"library/{ref.name}"
            return Endpoint(self._hub_host, self._hub_insecure, repository)
        return Endpoint(ref.registry, self._is_insecure(ref.registry), ref.name)

    def _is_insecure(self, host: str) -> bool:
        # Docker itself speaks plain HTTP to registries on the loopback interface
        # without being told; the same reference should inspect as it pulls.
        hostname = urlsplit(f"//{host}").hostname or ""
        is_loopback = hostname == "localhost" or hostname.startswith("127.")
        return is_loopback or host in self._insecure

    def inspect(self, ref: ImageRef) -> ImageInfo:
        """Describe the linux/amd64 image of ``ref`` from its manifest and config.

        Raises:
            ImageNotFoundError: no such repository or tag, or no linux/amd64 image.
            ImageSourceError: the registry cannot be reached, failed, or answered
                something that is not an image.
        """
        endpoint = self.endpoint(ref)
        client = self._client(endpoint)
        log.debug("registry inspect %s at %s", ref, endpoint.host)
        with _translated_errors(ref, endpoint):
            digest, manifest = _read_image_manifest(client, ref)
            config = _read_blob(client, manifest["config"]["digest"])
            return image_info(ref, digest, manifest, json.loads(config))

    def find_unservable_layer(self, ref: ImageRef) -> str | None:
        """Why the registry cannot serve a layer of ``ref``, or None if it can.

        Meant for a failed pull: a daemon with a registry mirror falls back to
        Docker Hub when the mirror fails, and reports only the fallback's error
        (offline, a DNS failure), not the mirror's own reason. This asks the
        registry for each layer (HEAD, no download).

        Raises:
            ImageNotFoundError, ImageSourceError: as ``inspect``.
        """
        endpoint = self.endpoint(ref)
        client = self._client(endpoint)
        with _translated_errors(ref, endpoint):
            _, manifest = _read_image_manifest(client, ref)
            for layer in manifest.get("layers", []):
                problem = _layer_problem(client, str(layer["digest"]))
                if problem is not None:
                    return f"{endpoint.host}/{endpoint.repository} {problem}"
        return None

    def _client(self, endpoint: Endpoint) -> dxf.DXF:
        return self._dxf_factory(
            endpoint.host,
            endpoint.repository,
            auth=_authenticate_anonymously,
            insecure=endpoint.insecure,
            timeout=REQUEST_TIMEOUT,
        )


def _layer_problem(client: dxf.DXF, digest: str) -> str | None:
    try:
        client.blob_size(digest)
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        return (
            f"cannot serve layer {digest} ({status}: {registry_reason(exc.response)})"
        )
    return None


def _authenticate_anonymously(client: dxf.DXFBase, response: requests.Response) -> None:
    # Called by dxf on a 401: it reads the WWW-Authenticate challenge and fetches a
    # pull token for the repository, with no credentials (Docker Hub's public pulls).
    client.authenticate(response=response)


def _read_image_manifest(client: dxf.DXF, ref: ImageRef) -> tuple[str, dict[str, Any]]:
    """The digest the tag resolves to and the image manifest for our platform."""
    manifest, response = _get_manifest(client, ref.tag)
    # The digest users see ("docker pull" prints it) is the one of what the tag points
    # to, a manifest list for multi-platform images.
    digest = response.headers.get("Docker-Content-Digest") or ref.tag
    media_type = _media_type(manifest, response)
    if media_type in MANIFEST_LIST_TYPES:
        chosen = pick_platform(manifest)
        if chosen is None:
            raise ImageNotFoundError(
                f"image {ref} has no {PLATFORM_OS}/{PLATFORM_ARCHITECTURE} variant"
            )
        manifest, response = _get_manifest(client, chosen)
        media_type = _media_type(manifest, response)
    if media_type not in IMAGE_MANIFEST_TYPES:
        raise ImageSourceError(f"image {ref}: unsupported manifest type {media_type}")
    return digest, manifest


def _read_blob(client: dxf.DXF, digest: str) -> bytes:
    # pull_blob returns (chunks, size) only when asked for the size; dxf checks the
    # digest once the last chunk is read.
    chunks = cast(Iterable[bytes], client.pull_blob(digest))
    return b"".join(chunks)


def _get_manifest(client: dxf.DXF, alias: str) -> tuple[dict[str, Any], Any]:
    text, response = client.get_manifest_and_response(alias)
    return json.loads(text), response


def _media_type(manifest: dict[str, Any], response: Any) -> str:
    # OCI makes "mediaType" optional inside the document; the Content-Type header
    # always carries it.
    header = response.headers.get("Content-Type", "").split(";")[0].strip()
    return str(manifest.get("mediaType") or header)


def pick_platform(manifest_list: dict[str, Any]) -> str | None:
    """The digest of the linux/amd64 entry of a manifest list, or None.

    An entry without a variant is preferred, as Docker does for amd64.
    """
    matches = [
        entry
        for entry in manifest_list.get("manifests", [])
        if entry.get("platform", {}).get("os") == PLATFORM_OS
        and entry.get("platform", {}).get("architecture") == PLATFORM_ARCHITECTURE
    ]
    matches.sort(key=lambda entry: "variant" in entry.get("platform", {}))
    return str(matches[0]["digest"]) if matches else None


def image_info(
    ref: ImageRef, digest: str, manifest: dict[str, Any], config: dict[str, Any]
) -> ImageInfo:
    """Build the pre-inspection answer from an image manifest and its config blob."""
    size = int(manifest["config"].get("size", 0)) + sum(
        int(layer.get("size", 0)) for layer in manifest.get("layers", [])
    )
    return ImageInfo(
        repository=ImageSource.DOCKERHUB.value,
        image=ref.repository,
        tag=ref.tag,
        digest=digest,
        size=size,
        architecture=config.get("architecture"),
        os=config.get("os"),
        created=config.get("created"),
        config=image_config(config.get("config") or {}),
    )


def image_config(config: dict[str, Any]) -> ImageConfig:
    """Map Docker's image config (``Cmd``, ``Env``, ...) onto ours.

    Docker uses the same shape in a registry config blob and in a local image's
    ``Config``, so both sources share this mapping.
    """
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    return ImageConfig(
        command=config.get("Cmd"),
        entrypoint=config.get("Entrypoint"),
        env=env,
        exposed_ports=sorted(config.get("ExposedPorts") or {}),
        volumes=sorted(config.get("Volumes") or {}),
        working_dir=config.get("WorkingDir") or None,
        labels=dict(config.get("Labels") or {}),
    )


@contextmanager
def _translated_errors(ref: ImageRef, endpoint: Endpoint) -> Iterator[None]:
    """Turn registry and HTTP failures into executor errors, by type and status."""
    where = f"{endpoint.host}/{endpoint.repository}"
    try:
        yield
    except requests.HTTPError as exc:
        raise _from_status(exc, ref, where) from exc
    except dxf.exceptions.DXFUnauthorizedError as exc:
        # Docker Hub answers 401 even to an anonymous token for a repository that
        # does not exist; Docker reports that case as not found, and so do we.
        raise ImageNotFoundError(
            f"image {ref} not found in {where} "
            "(the repository does not exist or needs credentials)"
        ) from exc
    except requests.RequestException as exc:
        raise ImageSourceError(f"registry {where} unreachable: {exc}") from exc
    except (dxf.exceptions.DXFError, ValueError, KeyError, TypeError) as exc:
        # A document that is not the manifest or config it claims to be.
        raise ImageSourceError(
            f"registry {where} answered badly for {ref}: {exc!r}"
        ) from exc


def _from_status(
    exc: requests.HTTPError, ref: ImageRef, where: str
) -> ImageNotFoundError | ImageSourceError:
    response = exc.response
    status = response.status_code if response is not None else None
    reason = registry_reason(response)
    if status == 404:
        return ImageNotFoundError(f"image {ref} not found in {where}: {reason}")
    return ImageSourceError(f"registry {where} failed for {ref} ({status}): {reason}")


def registry_reason(response: requests.Response | None) -> str:
    """The registry's own words for a failed request.

    The v2 API sends ``{"errors": [{"code", "message", "detail"}]}``; anything else
    falls back to the HTTP reason phrase.
    """
    if response is None:
        return "no response"
    try:
        errors = response.json().get("errors") or []
        messages = [f"{e.get('code')}: {e.get('message')}" for e in errors]
    except (ValueError, AttributeError):
        messages = []
    return "; ".join(messages) or str(response.reason or response.status_code)
