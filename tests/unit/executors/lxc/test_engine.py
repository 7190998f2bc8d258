"""The LXD adapter's image lookup, import and error translation, with a mocked pylxd."""

import json
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pylxd.exceptions
import pytest
import requests

from contract.images import ImageRef, ImageSource
from contract.params import CreateParams, PortMapping
from executors.engine import TASK_LABEL, TASK_UID_LABEL, ContainerRef, TaskMark
from executors.errors import (
    ContainerNotFoundError,
    EngineError,
    ImageNotFoundError,
    ImageSourceError,
    InvalidParamsError,
    NameTakenError,
)
from executors.lxc.catalog import CatalogEntry
from executors.lxc.engine import LxdEngine

FINGERPRINT = "ab" * 32
TASK = TaskMark(7, "5f0c9a8e-2b7d-4c1e-9a3f-6d2e8b1c4a70", "alice")
# The same task id in another installation sharing the LXD.
OTHER = TaskMark(7, "0b6e3d1f-8c2a-4e59-b7d4-1a9c5e2f3d86", "bob")
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
        engine.create(TASK, "web", FINGERPRINT, CreateParams())


def test_a_failed_create_over_a_foreign_instance_is_name_taken(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.create.side_effect = lxd_error(400, "already exists")
    client.instances.get.return_value = SimpleNamespace(
        config={f"user.{TASK_LABEL}": "7", f"user.{TASK_UID_LABEL}": OTHER.uid}
    )

    with pytest.raises(NameTakenError):
        engine.create(TASK, "web", FINGERPRINT, CreateParams())
    # One no ctstation made, without our keys, is foreign as well.
    client.instances.get.return_value = SimpleNamespace(config={})
    with pytest.raises(NameTakenError):
        engine.create(TASK, "web", FINGERPRINT, CreateParams())


def test_a_failed_create_over_the_tasks_own_instance_is_not_name_taken(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.create.side_effect = lxd_error(400, "disk full")
    client.instances.get.return_value = SimpleNamespace(
        config={f"user.{TASK_UID_LABEL}": TASK.uid}
    )

    with pytest.raises(EngineError, match="disk full") as raised:
        engine.create(TASK, "web", FINGERPRINT, CreateParams())
    assert not isinstance(raised.value, NameTakenError)


def test_create_that_leaves_no_container_is_engine_error(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.exists.return_value = False

    with pytest.raises(EngineError, match="does not exist"):
        engine.create(TASK, "web", FINGERPRINT, CreateParams())


def test_create_checks_the_hostname_against_the_name(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    with pytest.raises(InvalidParamsError, match="hostname"):
        engine.create(TASK, "web", FINGERPRINT, CreateParams(hostname="db"))
    client.instances.create.assert_not_called()


def test_remove_of_a_missing_container_is_fine(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.get.side_effect = lxd_error(404, "not found")

    engine.remove(ContainerRef("lxc", "web", "web", 7))


def instance(name: str, task: TaskMark) -> SimpleNamespace:
    return SimpleNamespace(
        name=name, config={f"user.{key}": value for key, value in task.labels().items()}
    )


def test_find_task_container_matches_the_user_task_uid_key(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.all.return_value = [
        instance("a", TaskMark(6, "9d1e2c3b-4a5f-4678-9abc-def012345678", "alice")),
        instance("b", TASK),
        SimpleNamespace(name="c", config={}),
    ]

    assert engine.find_task_container(TASK) == ContainerRef("lxc", "b", "b", 7)
    assert engine.find_task_container(OTHER) is None


def test_find_task_container_ignores_the_same_task_id_of_another_uid(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    client.instances.all.return_value = [instance("theirs", OTHER)]

    assert engine.find_task_container(TASK) is None
    assert engine.find_task_container(OTHER) == ContainerRef(
        "lxc", "theirs", "theirs", 7
    )

    client.instances.all.return_value = [
        instance("theirs", OTHER),
        instance("ours", TASK),
    ]
    assert engine.find_task_container(TASK) == ContainerRef("lxc", "ours", "ours", 7)


WEB = ContainerRef("lxc", "web", "web", 7)
PROXY = {"type": "proxy", "listen": "tcp:127.0.0.1:8080", "connect": "tcp:0.0.0.0:80"}


def test_a_stop_that_times_out_is_forced(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    running = mock.Mock(status="Running")
    running.stop.side_effect = [lxd_error(400, "shutting down failed"), None]
    client.instances.get.return_value = running

    engine.stop(WEB, timeout=1.5)

    assert running.stop.call_args_list == [
        mock.call(timeout=2, force=False, wait=True),
        mock.call(force=True, wait=True),
    ]


def test_a_stop_that_failed_but_stopped_all_the_same_is_not_forced(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    running = mock.Mock(status="Running")
    running.stop.side_effect = lxd_error(400, "shutting down failed")
    client.instances.get.side_effect = [running, mock.Mock(status="Stopped")]

    engine.stop(WEB)

    running.stop.assert_called_once_with(timeout=10, force=False, wait=True)


def test_a_stopped_container_is_not_stopped_again(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    stopped = mock.Mock(status="Stopped")
    client.instances.get.return_value = stopped

    engine.stop(WEB)

    stopped.stop.assert_not_called()


def instances_by_name(client: mock.MagicMock, **known: Any) -> None:
    def get(name: str) -> Any:
        if name not in known:
            raise lxd_error(404, "not found")
        return known[name]

    client.instances.get.side_effect = get
    client.instances.exists.side_effect = lambda name: name in known


def source_instance() -> mock.Mock:
    return mock.Mock(
        status="Running",
        profiles=["default"],
        devices={"web": PROXY},
        expanded_devices={"web": PROXY},
        config={},
    )


def test_a_failure_after_the_copy_deletes_the_copy(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    source = source_instance()
    source.name = "web"
    copy = source_instance()
    copy.status = "Stopped"
    copy.config = {f"user.{TASK_UID_LABEL}": OTHER.uid}
    copy.save.side_effect = lxd_error(500, "disk full")
    instances_by_name(client, web=source)
    client.instances.create.side_effect = lambda request, wait: instances_by_name(
        client, web=source, copy=copy
    )

    with pytest.raises(EngineError, match="disk full"):
        engine.clone(OTHER, WEB, "copy", None)

    assert copy.devices == {}
    copy.delete.assert_called_once_with(wait=True)
    source.delete.assert_not_called()


def test_a_copy_refused_over_a_foreign_instance_is_name_taken_and_kept(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    source = source_instance()
    source.name = "web"
    theirs = mock.Mock(status="Stopped", config={})
    instances_by_name(client, web=source)

    def copy_meanwhile(request: Any, wait: bool) -> None:
        instances_by_name(client, web=source, copy=theirs)
        raise lxd_error(400, "already exists")

    client.instances.create.side_effect = copy_meanwhile

    with pytest.raises(NameTakenError):
        engine.clone(TASK, WEB, "copy", None)

    theirs.delete.assert_not_called()


def test_a_copy_of_a_source_gone_meanwhile_is_container_not_found(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    source = source_instance()
    source.name = "web"
    instances_by_name(client, web=source)

    def gone_meanwhile(request: Any, wait: bool) -> None:
        instances_by_name(client)
        raise lxd_error(500, "Failed creating instance from copy")

    client.instances.create.side_effect = gone_meanwhile

    with pytest.raises(ContainerNotFoundError, match="web"):
        engine.clone(TASK, WEB, "copy", None)


def test_a_clone_port_without_host_port_is_refused_before_the_copy(
    engine: LxdEngine, client: mock.MagicMock
) -> None:
    with pytest.raises(InvalidParamsError, match="host port"):
        engine.clone(TASK, WEB, "copy", [PortMapping(container=80)])

    client.instances.create.assert_not_called()
