"""The app center catalog with a fake HTTP session."""

import hashlib
import json
from typing import Any

import pytest
import requests

from executors.errors import ImageNotFoundError, ImageSourceError
from executors.lxc.catalog import Catalog, CatalogEntry

INDEX_URL = "http://catalog.test/apps/index.json"
METADATA = b"metadata-tarball"
ROOTFS = b"rootfs-tarball" * 1000
FINGERPRINT = hashlib.sha256(METADATA + ROOTFS).hexdigest()


def entry(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "busybox",
        "tag": "latest",
        "architecture": "x86_64",
        "os": "busybox",
        "release": "1.35",
        "description": "tiny",
        "created": "2024-01-01T00:00:00Z",
        "metadata": "busybox-latest/meta.tar.gz",
        "rootfs": "busybox-latest/rootfs.tar.gz",
        "fingerprint": FINGERPRINT,
        "size": len(METADATA) + len(ROOTFS),
        **overrides,
    }


class FakeSession:
    """Answers GETs from a dict of URL -> (status, body); raises for unknown URLs."""

    def __init__(self, routes: dict[str, tuple[int, bytes]]) -> None:
        self.routes = routes

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        if url not in self.routes:
            raise requests.ConnectionError(f"cannot reach {url}")
        status, body = self.routes[url]
        reply = requests.Response()
        reply.status_code = status
        reply.url = url
        reply._content = body
        reply._content_consumed = True
        return reply


def catalog_with(index: Any, **files: tuple[int, bytes]) -> Catalog:
    routes = {INDEX_URL: (200, json.dumps(index).encode())}
    routes.update({f"http://catalog.test/apps/{path}": f for path, f in files.items()})
    return Catalog(INDEX_URL, FakeSession(routes))  # type: ignore[arg-type]


def test_find_returns_the_entry_with_urls_relative_to_the_index() -> None:
    catalog = catalog_with({"images": [entry(), entry(tag="1.35")]})

    found = catalog.find("busybox", "1.35")

    assert found.tag == "1.35"
    assert found.fingerprint == FINGERPRINT
    assert found.metadata == "http://catalog.test/apps/busybox-latest/meta.tar.gz"
    assert found.rootfs == "http://catalog.test/apps/busybox-latest/rootfs.tar.gz"


def test_an_image_not_in_the_index_is_not_found() -> None:
    with pytest.raises(ImageNotFoundError, match=r"busybox:2\.0"):
        catalog_with({"images": [entry()]}).find("busybox", "2.0")


@pytest.mark.parametrize(
    "index",
    [
        {"images": [entry(fingerprint="not-hex")]},
        {"images": [{"name": "busybox"}]},
        {"pictures": []},
        ["not", "an", "object"],
    ],
)
def test_an_index_that_does_not_fit_the_format_is_a_source_error(index: Any) -> None:
    with pytest.raises(ImageSourceError, match="invalid"):
        catalog_with(index).find("busybox", "latest")


def test_an_unreachable_catalog_is_a_source_error() -> None:
    catalog = Catalog(INDEX_URL, FakeSession({}))  # type: ignore[arg-type]

    with pytest.raises(ImageSourceError, match="unreachable"):
        catalog.find("busybox", "latest")


def test_download_reports_progress_and_verifies_the_fingerprint() -> None:
    catalog = catalog_with(
        {"images": [entry()]},
        **{
            "busybox-latest/meta.tar.gz": (200, METADATA),
            "busybox-latest/rootfs.tar.gz": (200, ROOTFS),
        },
    )
    reports: list[tuple[int | None, int | None]] = []

    metadata, rootfs = catalog.download(
        catalog.find("busybox", "latest"), lambda d, t: reports.append((d, t))
    )

    assert (metadata, rootfs) == (METADATA, ROOTFS)
    total = len(METADATA) + len(ROOTFS)
    assert reports[0] == (len(METADATA), total)
    assert reports[-1] == (total, total)


def test_a_download_that_does_not_match_the_fingerprint_is_refused() -> None:
    catalog = catalog_with(
        {"images": [entry()]},
        **{
            "busybox-latest/meta.tar.gz": (200, METADATA),
            "busybox-latest/rootfs.tar.gz": (200, b"tampered"),
        },
    )

    with pytest.raises(ImageSourceError, match="fingerprint"):
        catalog.download(catalog.find("busybox", "latest"), lambda d, t: None)


def test_a_missing_tarball_is_a_source_error_naming_the_url() -> None:
    catalog = catalog_with(
        {"images": [entry()]},
        **{
            "busybox-latest/meta.tar.gz": (200, METADATA),
            "busybox-latest/rootfs.tar.gz": (404, b"not found"),
        },
    )

    with pytest.raises(ImageSourceError, match=r"rootfs\.tar\.gz answered 404"):
        catalog.download(catalog.find("busybox", "latest"), lambda d, t: None)


def test_entries_are_frozen() -> None:
    found = catalog_with({"images": [entry()]}).find("busybox", "latest")

    assert isinstance(found, CatalogEntry)
    with pytest.raises(AttributeError):
        found.name = "other"  # type: ignore[misc]


def test_unconfigured_catalog_says_so() -> None:
    catalog = Catalog(None, requests.Session())

    with pytest.raises(ImageSourceError, match="CTSTATION_CATALOG_URL"):
        catalog.find("busybox", "latest")
