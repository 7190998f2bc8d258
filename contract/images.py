"""Image references and what pre-inspection learns about an image.

Pure data and parsing; the executors fill an ``ImageInfo`` from their engine or source.
"""

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

DEFAULT_TAG = "latest"


class ImageSource(StrEnum):
    """Where an image comes from: the ``image_repository`` part of the create URL."""

    LOCAL = "local"
    DOCKERHUB = "dockerhub"
    APPCENTER = "appcenter"


class ContainerType(StrEnum):
    LXC = "lxc"
    DOCKER = "docker"


# The pairs this server can create from; any other pair is refused at the gateway.
SUPPORTED_SOURCES = {
    ContainerType.DOCKER: {ImageSource.LOCAL, ImageSource.DOCKERHUB},
    ContainerType.LXC: {ImageSource.LOCAL, ImageSource.APPCENTER},
}

# ASCII only: Docker's tag grammar is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, and Python's
# \w alone would let any Unicode letter through.
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)


class ImageReferenceError(ValueError):
    """An image and tag that cannot name one image."""


@dataclass(frozen=True)
class ImageRef:
    """An image named by the request, split the way Docker splits references.

    ``registry`` is set only when the image string names a registry host; ``name``
    is the path inside the registry (``team/app``), never including the tag.
    """

    name: str
    tag: str = DEFAULT_TAG
    registry: str | None = None

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.name}" if self.registry else self.name

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}"


def parse_reference(image: str, tag: str | None = None) -> ImageRef:
    """Split ``image`` into registry, name and tag, and reconcile it with ``tag``.

    The tag inside the image string is what follows the last colon after the last
    slash, so the port in ``registry.test:5000/team/app`` is never taken for a tag.
    A missing tag means ``latest``, never all tags.

    Raises:
        ImageReferenceError: the image is empty or malformed, a digest is given, or the
            image string and ``tag`` name two different tags.
    """
    image = image.strip()
    if not image:
        raise ImageReferenceError("image must not be empty")
    if "@" in image:
        raise ImageReferenceError("image digests are not supported; give a tag")

    last_slash = image.rfind("/")
    last_colon = image.rfind(":")
    inline_tag = None
    if last_colon > last_slash:
        image, inline_tag = image[:last_colon], image[last_colon + 1 :]

    if inline_tag is not None and tag is not None and inline_tag != tag:
        raise ImageReferenceError(
            f"tag given twice: {inline_tag!r} in image and {tag!r} in tag"
        )
    chosen_tag = tag or inline_tag or DEFAULT_TAG
    if not _TAG.match(chosen_tag):
        raise ImageReferenceError(f"invalid tag {chosen_tag!r}")

    registry, name = _split_registry(image)
    if len(name) > 255:
        # Docker's own limit on a repository path.
        raise ImageReferenceError("image name is longer than 255 characters")
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise ImageReferenceError(f"invalid image name {image!r}")
    return ImageRef(name=name, tag=chosen_tag, registry=registry)


def _split_registry(image: str) -> tuple[str | None, str]:
    first, _, rest = image.partition("/")
    # Docker's rule: the first component is a registry host when it has a dot or a
    # port, or is "localhost"; otherwise the whole string is a Docker Hub path.
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, image


@dataclass(frozen=True)
class ImageConfig:
    """The defaults a container of the image gets, where the source knows them."""

    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    working_dir: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageInfo:
    """The answer of pre-inspection."""

    repository: str
    image: str
    tag: str
    digest: str | None = None
    fingerprint: str | None = None
    size: int | None = None
    architecture: str | None = None
    os: str | None = None
    created: str | None = None
    description: str | None = None
    config: ImageConfig = field(default_factory=ImageConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ImageInfo":
        config = ImageConfig(**(data.get("config") or {}))
        return cls(**{**data, "config": config})
