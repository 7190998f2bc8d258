"""The container API, clones and cancels on the real stack and engines."""

import time

import pytest

from executors.engine import TASK_LABEL
from tests.integration.conftest import unique_name
from tests.integration.stack import Stack
from tests.integration.test_create_e2e import assert_completed

pytestmark = pytest.mark.integration

IMAGES = {"docker": ("local", "ctstation-local/box"), "lxc": ("local", "busybox")}


def create(stack: Stack, kind: str, name: str, user: str = "alice", **params) -> dict:
    source, image = IMAGES[kind]
    task = stack.create(source, kind, {"name": name, "image": image, **params}, user)
    assert_completed(task)
    return task


@pytest.mark.parametrize("kind", ["docker", "lxc"])
def test_container_lifecycle(stack: Stack, made, kind: str) -> None:
    name = unique_name("life")
    made.append((kind, name))
    task = create(stack, kind, name, env={"GREETING": "hi"})

    listed = stack.get(f"/container?type={kind}").json()
    inspected = stack.get(f"/container/{kind}/{name}").json()
    stopped = stack.put(f"/container/{kind}/{name}/stop").json()
    started = stack.put(f"/container/{kind}/{name}/start").json()
    restarted = stack.put(f"/container/{kind}/{name}/restart").json()
    refused = stack.delete(f"/container/{kind}/{name}")
    deleted = stack.delete(f"/container/{kind}/{name}?force=true")

    assert name in [c["name"] for c in listed]
    assert inspected["task_id"] == task["id"]
    assert inspected["owner"] == "alice"
    assert inspected["config"]["env"]["GREETING"] == "hi"
    assert (stopped["state"], started["state"], restarted["state"]) == (
        "exited" if kind == "docker" else "stopped",
        "running",
        "running",
    )
    assert refused.status_code == 409
    assert deleted.status_code == 200
    assert stack.get(f"/container/{kind}/{name}").status_code == 404


def test_docker_getid_and_lookup_by_id(stack: Stack, made) -> None:
    name = unique_name("id")
    made.append(("docker", name))
    create(stack, "docker", name)

    found = stack.get(f"/container/docker/getid/{name}").json()
    missing = stack.get("/container/docker/getid/nosuchcontainer")

    assert stack.get(f"/container/docker/{found['id'][:12]}").json()["name"] == name
    assert missing.status_code == 404
    assert "error" in missing.text


@pytest.mark.parametrize("kind", ["docker", "lxc"])
@pytest.mark.parametrize("running", [True, False])
def test_clone_has_the_sources_config_and_leaves_it_as_it_was(
    stack: Stack,
    made,
    kind: str,
    running: bool,
) -> None:
    source, clone = unique_name("src"), unique_name("cln")
    made.extend([(kind, source), (kind, clone)])
    create(
        stack,
        kind,
        source,
        env={"ROLE": "db"},
        labels={"team": "blue"},
        memory="64MiB",
        start=running,
    )
    before = stack.get(f"/container/{kind}/{source}").json()["state"]

    response = stack.post(f"/container/{kind}/{source}/clone", {"name": clone})

    assert response.status_code == 202, response.text
    task = stack.wait_final(response.json()["id"])
    assert_completed(task)
    assert (task["kind"], task["from"], task["image"]) == ("clone", "clone", source)
    copy = stack.get(f"/container/{kind}/{clone}").json()
    assert copy["state"] == "running"
    assert copy["task_id"] == task["id"]
    assert copy["config"]["env"]["ROLE"] == "db"
    assert copy["config"]["labels"]["team"] == "blue"
    assert copy["config"]["memory"] == 64 * 1024 * 1024
    assert stack.get(f"/container/{kind}/{source}").json()["state"] == before


def test_docker_clone_drops_host_ports_and_says_so(
    stack: Stack,
    made,
    docker_engine,
) -> None:
    source, clone = unique_name("psrc"), unique_name("pcln")
    made.extend([("docker", source), ("docker", clone)])
    create(stack, "docker", source, ports=[{"host_ip": "127.0.0.1", "container": 80}])

    response = stack.post(f"/container/docker/{source}/clone", {"name": clone})

    task = stack.wait_final(response.json()["id"])
    assert_completed(task)
    assert any("port" in note for note in task["notes"]), task["notes"]
    bindings = docker_engine.containers.get(clone).attrs["HostConfig"]["PortBindings"]
    assert not bindings
    assert docker_engine.containers.get(clone).labels[TASK_LABEL] == str(task["id"])
    assert stack.delete(f"/container/docker/{clone}?force=true").status_code == 200
    assert docker_engine.images.list(name=f"ctstation-clone/{clone}") == []


@pytest.mark.parametrize("kind", ["docker", "lxc"])
def test_clone_refusals(stack: Stack, made, kind: str) -> None:
    source, taken = unique_name("rsrc"), unique_name("rtkn")
    made.extend([(kind, source), (kind, taken)])
    create(stack, kind, source, start=False)
    create(stack, kind, taken, start=False)
    before = len(stack.get("/image/create/").json())

    answers = {
        "missing source": stack.post(f"/container/{kind}/nosuch/clone", {"name": "x1"}),
        "taken name": stack.post(f"/container/{kind}/{source}/clone", {"name": taken}),
        "invalid name": stack.post(
            f"/container/{kind}/{source}/clone", {"name": "-bad"}
        ),
        "other user": stack.post(
            f"/container/{kind}/{source}/clone", {"name": "x2"}, user="bob"
        ),
    }

    statuses = {what: r.status_code for what, r in answers.items()}
    assert statuses == {
        "missing source": 404,
        "taken name": 409,
        "invalid name": 400,
        "other user": 404,
    }
    assert len(stack.get("/image/create/").json()) == before


def test_users_do_not_see_each_others_containers(stack: Stack, made) -> None:
    alice, bob = unique_name("al"), unique_name("bo")
    made.extend([("docker", alice), ("docker", bob)])
    create(stack, "docker", alice)
    create(stack, "docker", bob, user="bob")

    seen_by_alice = [c["name"] for c in stack.get("/container?type=docker").json()]
    seen_by_admin = [
        c["name"] for c in stack.get("/container?type=docker", user="root").json()
    ]

    assert alice in seen_by_alice and bob not in seen_by_alice
    assert {alice, bob} <= set(seen_by_admin)
    assert stack.put(f"/container/docker/{bob}/stop").status_code == 404
    assert stack.delete(f"/container/docker/{bob}?force=true").status_code == 404
    assert (
        stack.get(f"/container/docker/{bob}", user="bob").json()["state"] == "running"
    )


def test_foreign_containers_are_for_admins_only(
    stack: Stack,
    made,
    docker_engine,
) -> None:
    name = unique_name("frn")
    made.append(("docker", name))
    docker_engine.containers.create("ctstation-local/box:latest", name=name)

    assert stack.get(f"/container/docker/{name}").status_code == 404
    admin_view = stack.get(f"/container/docker/{name}", user="root").json()
    assert admin_view["owner"] is None and admin_view["task_id"] is None
    assert (
        stack.put(f"/container/docker/{name}/start", user="root").json()["state"]
        == "running"
    )


def test_post_container_answers_when_it_exists(stack: Stack, made) -> None:
    name = unique_name("post")
    made.append(("docker", name))

    response = stack.post(
        "/container", {"type": "docker", "name": name, "image": "ctstation-local/box"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["container"]["state"] == "running"


def _slow_lxc_create(stack: Stack, made: list) -> dict:
    """An LXC task that stays at its starting step for seconds: LXD takes about
    7 s to fail a start whose proxy device cannot listen on a taken port."""
    holder, name = unique_name("hold"), unique_name("slow")
    made.extend([("lxc", holder), ("lxc", name)])
    port = {
        "host_ip": "127.0.0.1",
        "host": 18000 + int(time.time()) % 1000,
        "container": 80,
    }
    create(stack, "lxc", holder, ports=[port])
    response = stack.post(
        "/image/create/local/lxc", {"name": name, "image": "busybox", "ports": [port]}
    )
    assert response.status_code == 202, response.text
    return response.json()


def _wait_for_state(stack: Stack, task_id: int, state: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = stack.get(f"/image/create/{task_id}").json()
        if task["state"] == state:
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never reached {state}")


def _wait_for_log(stack: Stack, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in stack.logs():
        assert time.monotonic() < deadline, f"no {text!r} in the service logs"
        time.sleep(0.2)


def test_cancel_of_running_and_waiting_tasks_leaves_nothing(
    stack: Stack,
    made,
    lxd,
) -> None:
    running = _slow_lxc_create(stack, made)
    _wait_for_state(stack, running["id"], "running")
    waiting_name = unique_name("wait")
    made.append(("lxc", waiting_name))
    waiting = stack.post(
        "/image/create/local/lxc", {"name": waiting_name, "image": "busybox"}
    ).json()
    assert stack.get(f"/image/create/{waiting['id']}").json()["state"] == "waiting"

    cancelled_waiting = stack.delete(f"/image/create/{waiting['id']}").json()
    cancelled_running = stack.delete(f"/image/create/{running['id']}").json()

    for task in (cancelled_waiting, cancelled_running):
        assert (task["state"], task["detail_state"]) == ("aborted", "cancelled")
    _wait_for_log(stack, f"task {waiting['id']} taken")  # after the slow start
    time.sleep(1)
    assert stack.get(f"/image/create/{running['id']}").json()["detail_state"] == (
        "cancelled"
    )
    assert not lxd.instances.exists(running["name"])
    assert not lxd.instances.exists(waiting_name)
    listed = [t["id"] for t in stack.get("/image/create/").json()]
    assert {running["id"], waiting["id"]} <= set(listed)


def test_docker_cancel_of_a_pulling_and_a_waiting_task_leaves_nothing(
    stack: Stack, made, docker_engine
) -> None:
    from tests.integration.slow_registry import slow_registry
    from tests.integration.test_create_e2e import _forget_local_image

    pulling_name, waiting_name = unique_name("pull"), unique_name("queued")
    made.extend([("docker", pulling_name), ("docker", waiting_name)])
    with slow_registry() as registry:
        image = f"{registry}/library/pullbox"
        for reference in (f"{image}:latest", "pullbox:latest"):
            _forget_local_image(docker_engine, reference)
        pulling = stack.post(
            "/image/create/dockerhub/docker", {"name": pulling_name, "image": image}
        ).json()
        task = _wait_for_state(stack, pulling["id"], "running")
        waiting = stack.post(
            "/image/create/local/docker",
            {"name": waiting_name, "image": "ctstation-local/box"},
        ).json()
        assert stack.get(f"/image/create/{waiting['id']}").json()["state"] == (
            "waiting"
        )

        for cancelled in (
            stack.delete(f"/image/create/{pulling['id']}").json(),
            stack.delete(f"/image/create/{waiting['id']}").json(),
        ):
            assert cancelled["detail_state"] == "cancelled"
        # The pull stops at its next progress report; then the executor takes
        # the waiting task's work, sees it was cancelled, and makes nothing.
        _wait_for_log(stack, f"task {waiting['id']} taken")
        time.sleep(1)

    assert task["detail_state"] in ("inspecting", "pulling")
    for name in (pulling_name, waiting_name):
        assert (
            docker_engine.containers.list(all=True, filters={"name": f"^/{name}$"})
            == []
        )
    assert not docker_engine.images.list(name=image)
