"""The LXD adapter's image lookup, import and error translation, with a mocked pylxd."""

import json
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pylxd.exceptions
import pytest
import requests

from contract.images import ImageRef, ImageSource
from contract.params import CreateParams
from executors.engine import TASK_LABEL, ContainerRef
from executors.errors import (
    EngineError,
    ImageNotFoundError,
    ImageSourceError,
    InvalidParamsError,
    NameTakenError,
)
from executors.lxc.catalog import CatalogEntry
from executors.lxc.engine import LxdEngine

FINGERPRINT = "ab" * 32
ENTRY = CatalogEntry(
    name="busybox",
    tag="latest",
    fingerprint=FINGERPRINT,
    metadata="http://c/m",
    rootfs="http://c/r",
    size=10,
)


def lxd_error(status: int, message: str) -> Any:
    reply = requests.Response()
    reply.status_code = status
    reply._content = json.dumps({"error": message}).encode()
    if status == 404:
        return pylxd.exceptions.NotFound(reply)
    return pylxd.exceptions.LXDAPIException(reply)


def image(fingerprint: str = FINGERPRINT, **properties: str) -> SimpleNamespace:
    return SimpleNamespace(
        fingerprint=fingerprint,
        size=123,
        architecture="x86_64",
        created_at="2024-01-01T00:00:00Z",
        properties=properties,
    )


@pytest.fixture
def client() -> mock.MagicMock:
    return mock.MagicMock()


@pytest.fixture
def catalog() -> mock.MagicMock:
    found = mock.MagicMock()
    found.find.return_value = ENTRY
    found.download.return_value = (b"meta", b"rootfs")
    return found


@pytest.fixture
def engine(client: mock.MagicMock, catalog: mock.MagicMock) -> LxdEngine:
    return LxdEngine(client, catalog)


def aliases(client: mock.MagicMock, known: dict[str, SimpleNamespace]) -> None:
    def get_by_alias(alias: str) -> SimpleNamespace:
        if alias not in known:
            raise lxd_error(404, "not found")
        return known[alias]

    client.images.get_by_alias.side_effect = get_by_alias
    client.images.get.side_effect = lxd_error(404, "not found")


def test_a_tag_other_than_latest_is_first_looked_up_as_image_colon_tag(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    aliases(client, {"busybox:1.35": image("11" * 32), "busybox": image()})

    info = engine.inspect_image(ImageSource.LOCAL, ImageRef("busybox", "1.35"))

    assert info.fingerprint == "11" * 32


def test_a_plain_alias_serves_another_tag_only_for_its_own_release(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    aliases(client, {"busybox": image(release="1.35")})

    assert engine.inspect_image(ImageSource.LOCAL, ImageRef("busybox", "1.35"))
    with pytest.raises(ImageNotFoundError, match=r"busybox:1\.30"):
        engine.inspect_image(ImageSource.LOCAL, ImageRef("busybox", "1.30"))


def test_a_fingerprint_prefix_names_a_local_image(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    aliases(client, {})
    client.images.get.side_effect = None
    client.images.get.return_value = image()

    fingerprint = engine.fetch_image(
        ImageSource.LOCAL, ImageRef("abab12"), lambda d, t: None
    )

    assert fingerprint == FINGERPRINT
    client.images.get.assert_called_with("abab12")


def test_catalog_inspection_does_not_download(
    engine: LxdEngine, catalog: mock.MagicMock
) -> None:
    info = engine.inspect_image(ImageSource.APPCENTER, ImageRef("busybox"))

    assert (info.repository, info.fingerprint, info.size) == (
        "appcenter",
        FINGERPRINT,
        10,
    )
    catalog.download.assert_not_called()


def test_fetch_skips_the_download_when_lxd_has_the_fingerprint(
    engine: LxdEngine, client: mock.MagicMock, catalog: mock.MagicMock
) -> None:
    client.images.get.return_value = image()

    assert engine.fetch_image(ImageSource.APPCENTER, ImageRef("busybox"), print) == (
        FINGERPRINT
    )
    catalog.download.assert_not_called()


def test_fetch_downloads_and_imports_a_new_catalog_image(
    engine: LxdEngine, client: mock.MagicMock, catalog: mock.MagicMock
) -> None:
    client.images.get.side_effect = lxd_error(404, "not found")

    engine.fetch_image(ImageSource.APPCENTER, ImageRef("busybox"), print)

    client.images.create.assert_called_once_with(b"rootfs", metadata=b"meta")


def test_a_refused_import_is_a_source_error_with_lxd_reason(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.images.get.side_effect = lxd_error(404, "not found")
    client.images.create.side_effect = lxd_error(400, "bad metadata.yaml")

    with pytest.raises(ImageSourceError, match=r"bad metadata\.yaml"):
        engine.fetch_image(ImageSource.APPCENTER, ImageRef("busybox"), print)


def test_a_failed_create_is_engine_error_with_lxd_message(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.create.side_effect = lxd_error(400, "Failed to load network")
    client.instances.get.side_effect = lxd_error(404, "not found")

    with pytest.raises(EngineError, match="Failed to load network"):
        engine.create(7, "alice", "web", FINGERPRINT, CreateParams())


def test_a_failed_create_over_a_foreign_instance_is_name_taken(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.create.side_effect = lxd_error(400, "already exists")
    client.instances.get.return_value = SimpleNamespace(config={TASK_LABEL: "x"})

    with pytest.raises(NameTakenError):
        engine.create(7, "alice", "web", FINGERPRINT, CreateParams())


def test_create_that_leaves_no_container_is_engine_error(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.exists.return_value = False

    with pytest.raises(EngineError, match="does not exist"):
        engine.create(7, "alice", "web", FINGERPRINT, CreateParams())


def test_create_checks_the_hostname_against_the_name(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    with pytest.raises(InvalidParamsError, match="hostname"):
        engine.create(7, "alice", "web", FINGERPRINT, CreateParams(hostname="db"))
    client.instances.create.assert_not_called()


def test_remove_of_a_missing_container_is_fine(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.get.side_effect = lxd_error(404, "not found")

    engine.remove(ContainerRef("lxc", "web", "web", 7))


def test_find_task_container_matches_the_user_task_key(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.all.return_value = [
        SimpleNamespace(name="a", config={f"user.{TASK_LABEL}": "6"}),
        SimpleNamespace(name="b", config={f"user.{TASK_LABEL}": "7"}),
    ]

    assert engine.find_task_container(7) == ContainerRef("lxc", "b", "b", 7)
    assert engine.find_task_container(8) is None
