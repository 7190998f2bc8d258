"""The "appcenter" image source: a catalog of LXD images served over HTTP.

The catalog is one JSON index and, for each image, a metadata tarball and a rootfs
tarball at URLs relative to the index::

    {"images": [{"name": "busybox", "tag": "latest", "architecture": "x86_64",
                 "os": "busybox", "release": "1.35", "description": "...",
                 "created": "2024-01-01T00:00:00Z",
                 "metadata": "busybox-latest/meta.tar.gz",
                 "rootfs": "busybox-latest/rootfs.tar.gz",
                 "fingerprint": "<sha256 hex>", "size": 12345}]}

``fingerprint`` is LXD's fingerprint of the split image: the SHA-256 of the metadata
tarball followed by the rootfs tarball. A download is checked against it, so what
LXD imports is what the catalog announced.
"""

import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import urljoin

import pydantic
import requests

from contract.images import ImageInfo, ImageRef, ImageSource
from executors.engine import ProgressReport
from executors.errors import ImageNotFoundError, ImageSourceError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0
CHUNK_SIZE = 64 * 1024


@pydantic.dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One image of the catalog, with its tarball URLs made absolute."""

    name: str
    tag: str
    fingerprint: Annotated[str, pydantic.Field(pattern=r"^[0-9a-f]{64}$")]
    metadata: str
    rootfs: str
    architecture: str | None = None
    os: str | None = None
    release: str | None = None
    description: str | None = None
    created: str | None = None
    size: Annotated[int, pydantic.Field(ge=0)] | None = None


@pydantic.dataclasses.dataclass(frozen=True)
class CatalogIndex:
    images: list[CatalogEntry]


class Catalog:
    """Finds and downloads catalog images.

    Args:
        index_url: the URL of ``index.json``; None when no catalog is configured.
        session: the HTTP session to use (shared connections, test doubles).
    """

    def __init__(self, index_url: str | None, session: requests.Session) -> None:
        self._index_url = index_url
        self._session = session

    def find(self, name: str, tag: str) -> CatalogEntry:
        """The catalog's entry for ``name:tag``; the index is read on every call.

        Raises:
            ImageNotFoundError: the catalog has no such image and tag.
            ImageSourceError: the index cannot be fetched or is not a valid index.
        """
        for entry in self.entries():
            if entry.name == name and entry.tag == tag:
                return entry
        raise ImageNotFoundError(f"image {name}:{tag} not found in the app center")

    def entries(self) -> list[CatalogEntry]:
        """Every image of the index, tarball URLs resolved against the index URL.

        Raises:
            ImageSourceError: no catalog is configured, or the index cannot be
                fetched or is not a valid index.
        """
        if not self._index_url:
            raise ImageSourceError(
                "no appcenter catalog is configured (CTSTATION_CATALOG_URL)"
            )
        with _source_errors(self._index_url):
            response = self._session.get(self._index_url, timeout=REQUEST_TIMEOUT)
            response.raise_for_status()
            index = CatalogIndex(**response.json())
        return [self._absolute(entry) for entry in index.images]

    def download(
        self, entry: CatalogEntry, report: ProgressReport
    ) -> tuple[bytes, bytes]:
        """Download an entry's metadata and rootfs tarballs and check its fingerprint.

        Progress counts the bytes of both tarballs against ``entry.size`` when the
        catalog gives it.

        Known limitation: both tarballs are held in memory, which suits the small
        images of an app center but not multi-gigabyte ones.

        Raises:
            ImageSourceError: a tarball cannot be fetched, or the bytes do not have
                the announced fingerprint.
        """
        progress = _Progress(report, entry.size)
        metadata = self._fetch(entry.metadata, progress)
        rootfs = self._fetch(entry.rootfs, progress)
        verify_fingerprint(entry, metadata, rootfs)
        return metadata, rootfs

    def _fetch(self, url: str, progress: "_Progress") -> bytes:
        chunks = []
        with (
            _source_errors(url),
            self._session.get(url, stream=True, timeout=REQUEST_TIMEOUT) as reply,
        ):
            reply.raise_for_status()
            for chunk in reply.iter_content(CHUNK_SIZE):
                chunks.append(chunk)
                progress.add(len(chunk))
        log.debug("downloaded %s", url)
        return b"".join(chunks)

    def _absolute(self, entry: CatalogEntry) -> CatalogEntry:
        return dataclasses.replace(
            entry,
            metadata=urljoin(self._index_url, entry.metadata),
            rootfs=urljoin(self._index_url, entry.rootfs),
        )


def verify_fingerprint(entry: CatalogEntry, metadata: bytes, rootfs: bytes) -> None:
    """Check the tarballs against LXD's fingerprint of a split image.

    Raises:
        ImageSourceError: the SHA-256 of metadata then rootfs is not the entry's.
    """
    digest = hashlib.sha256(metadata)
    digest.update(rootfs)
    if digest.hexdigest() != entry.fingerprint:
        raise ImageSourceError(
            f"app center image {entry.name}:{entry.tag} does not match its "
            f"fingerprint (announced {entry.fingerprint}, got {digest.hexdigest()})"
        )


class _Progress:
    """Adds up downloaded bytes over several files and reports the running total."""

    def __init__(self, report: ProgressReport, expected: int | None) -> None:
        self._report = report
        self._expected = expected
        self._done = 0

    def add(self, count: int) -> None:
        self._done += count
        self._report(self._done, self._expected)


@contextmanager
def _source_errors(url: str) -> Iterator[None]:
    """HTTP and format failures of the catalog as ImageSourceError."""
    try:
        yield
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        raise ImageSourceError(f"app center: {url} answered {status}") from exc
    except requests.RequestException as exc:
        raise ImageSourceError(f"app center unreachable at {url}: {exc}") from exc
    except (ValueError, TypeError) as exc:
        # JSON that does not parse or an index that does not fit the format;
        # pydantic's ValidationError is a ValueError.
        raise ImageSourceError(f"app center index {url} is invalid: {exc}") from exc


def catalog_image_info(ref: ImageRef, entry: CatalogEntry) -> ImageInfo:
    """Pre-inspection answer for an app center image, from its index entry."""
    return ImageInfo(
        repository=ImageSource.APPCENTER.value,
        image=ref.repository,
        tag=ref.tag,
        fingerprint=entry.fingerprint,
        size=entry.size,
        architecture=entry.architecture,
        os=entry.os,
        created=entry.created,
        description=entry.description,
    )
