"""Create tasks end to end: HTTP, RabbitMQ, SQL and the real engines."""

from concurrent.futures import ThreadPoolExecutor

import docker
import pylxd
import pytest
import requests

from executors.engine import TASK_LABEL
from tests.integration.conftest import unique_name
from tests.integration.stack import CATALOG_URL, Stack

pytestmark = pytest.mark.integration


def assert_completed(task: dict) -> None:
    assert task["state"] == "completed", task
    assert task["result"] == 0
    assert task["detail_state"] == "done"
    assert task["init"] <= task["start"] <= task["end"]


@pytest.mark.parametrize(
    ("source", "image", "tag"),
    [("local", "ctstation-local/box", "latest"), ("dockerhub", "pullbox", "latest")],
)
def test_docker_container_is_created_running_and_labelled(
    stack: Stack, docker_engine, made, source: str, image: str, tag: str
) -> None:
    name = unique_name("d")
    made.append(("docker", name))
    if source == "dockerhub":
        _forget_local_image(docker_engine, f"{image}:{tag}")

    task = stack.create(
        source, "docker", {"type": "docker", "name": name, "image": image, "tag": tag}
    )

    assert_completed(task)
    container = docker_engine.containers.get(name)
    assert container.status == "running"
    assert container.labels[TASK_LABEL] == str(task["id"])
    assert task["container"]["id"] == container.id
    if source == "dockerhub":
        assert task["progress"]["current"] == task["progress"]["total"] > 0


@pytest.mark.parametrize(
    ("source", "image"), [("local", "busybox"), ("appcenter", "busybox")]
)
def test_lxc_container_is_created_running_and_labelled(
    stack: Stack, lxd, made, source: str, image: str
) -> None:
    name = unique_name("l")
    made.append(("lxc", name))
    if source == "appcenter":
        _forget_catalog_image(lxd, image)

    task = stack.create(
        source, "lxc", {"type": "lxc", "name": name, "image": image, "tag": "latest"}
    )

    assert_completed(task)
    instance = lxd.instances.get(name)
    assert instance.status == "Running"
    assert instance.config[f"user.{TASK_LABEL}"] == str(task["id"])
    if source == "appcenter":
        assert task["progress"]["current"] == task["progress"]["total"] > 0


def test_dockerhub_preinspection_describes_the_image(stack: Stack) -> None:
    response = stack.post("/image/create/dockerhub/docker", {"image": "busybox:1.35"})

    assert response.status_code == 200, response.text
    image = response.json()
    assert (image["image"], image["tag"]) == ("busybox", "1.35")
    assert image["digest"].startswith("sha256:")
    assert image["size"] > 0
    assert image["architecture"] == "amd64"
    assert "TESTBOX=1" in [f"{k}={v}" for k, v in image["config"]["env"].items()]
    assert "80/tcp" in image["config"]["exposed_ports"]


def test_appcenter_preinspection_describes_the_image(stack: Stack) -> None:
    response = stack.post("/image/create/appcenter/lxc", {"image": "busybox"})

    assert response.status_code == 200, response.text
    image = response.json()
    assert image["fingerprint"]
    assert image["architecture"] == "x86_64"


@pytest.mark.parametrize(
    "path", ["dockerhub/docker", "local/docker", "local/lxc", "appcenter/lxc"]
)
def test_unknown_image_is_404_naming_image_and_tag(stack: Stack, path: str) -> None:
    body = {"name": unique_name("x"), "image": "nosuchimage", "tag": "9.9"}
    before = len(stack.get("/image/create/").json())

    response = stack.post(f"/image/create/{path}", body)

    assert response.status_code == 404, response.text
    message = response.json()["error"]["message"]
    assert "nosuchimage" in message and "9.9" in message
    assert len(stack.get("/image/create/").json()) == before


def test_name_of_foreign_docker_container_is_409_and_left_alone(
    stack: Stack, docker_engine, made
) -> None:
    name = unique_name("foreign")
    made.append(("docker", name))
    foreign = docker_engine.containers.create("ctstation-local/box:latest", name=name)

    response = stack.post(
        "/image/create/dockerhub/docker", {"name": name, "image": "brokenbox"}
    )

    assert response.status_code == 409, response.text
    assert name in response.json()["error"]["message"]
    foreign.reload()
    assert foreign.status == "created"
    assert TASK_LABEL not in foreign.labels


def test_pull_failing_after_preinspection_aborts_at_pulling(
    stack: Stack, docker_engine
) -> None:
    name = unique_name("broken")

    task = stack.create("dockerhub", "docker", {"name": name, "image": "brokenbox"})

    assert task["state"] == "aborted"
    assert task["result"] != 0
    assert task["error"]["step"] == "pulling"
    assert task["detail_state"].startswith("pulling failed")
    assert docker_engine.containers.list(all=True, filters={"name": f"^/{name}$"}) == []


def test_start_failing_on_taken_port_aborts_and_removes_container(
    stack: Stack, docker_engine, made
) -> None:
    holder, name = unique_name("holder"), unique_name("clash")
    made.extend([("docker", holder), ("docker", name)])
    first = stack.create(
        "local",
        "docker",
        {
            "name": holder,
            "image": "ctstation-local/box",
            "ports": [{"host_ip": "127.0.0.1", "container": 80}],
        },
    )
    taken = first["container"]["ports"][0]["host"]

    task = stack.create(
        "local",
        "docker",
        {
            "name": name,
            "image": "ctstation-local/box",
            "ports": [{"host_ip": "127.0.0.1", "host": taken, "container": 80}],
        },
    )

    assert task["state"] == "aborted"
    assert task["error"]["step"] == "starting"
    assert str(taken) in task["detail_state"] or "allocated" in task["detail_state"]
    assert docker_engine.containers.list(all=True, filters={"name": f"^/{name}$"}) == []


def test_port_with_host_ip_is_bound_on_that_ip_only(
    stack: Stack, docker_engine, made
) -> None:
    name = unique_name("ports")
    made.append(("docker", name))

    task = stack.create(
        "local",
        "docker",
        {
            "name": name,
            "image": "ctstation-local/box",
            "ports": [
                {"host_ip": "127.0.0.1", "container": 80},
                {"container": 8080, "protocol": "udp"},
            ],
        },
    )

    assert_completed(task)
    bindings = docker_engine.containers.get(name).attrs["NetworkSettings"]["Ports"]
    assert [b["HostIp"] for b in bindings["80/tcp"]] == ["127.0.0.1"]
    reported = {(p["container"], p["protocol"]): p for p in task["container"]["ports"]}
    assert reported[(80, "tcp")]["host"] == int(bindings["80/tcp"][0]["HostPort"])
    assert reported[(8080, "udp")]["host"] > 0


def test_create_params_reach_the_docker_container(
    stack: Stack, docker_engine, made
) -> None:
    name = unique_name("params")
    made.append(("docker", name))

    task = stack.create(
        "local",
        "docker",
        {
            "name": name,
            "image": "ctstation-local/box",
            "start": False,
            "env": {"GREETING": "hi"},
            "memory": "64MiB",
            "cpu": 0.5,
            "labels": {"team": "blue"},
            "hostname": "box1",
            "autostart": True,
            "command": "sleep 300",
        },
    )

    assert_completed(task)
    container = docker_engine.containers.get(name)
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert container.status == "created"
    assert "GREETING=hi" in config["Env"]
    assert config["Cmd"] == ["sleep", "300"]
    assert config["Hostname"] == "box1"
    assert config["Labels"]["team"] == "blue"
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000
    assert host["RestartPolicy"]["Name"] == "unless-stopped"


def test_lxd_failure_aborts_with_lxds_message(stack: Stack, lxd) -> None:
    name = unique_name("nonet")

    task = stack.create(
        "local", "lxc", {"name": name, "image": "busybox", "network": "nosuchnet"}
    )

    assert task["state"] == "aborted"
    assert task["error"]["step"] == "creating"
    assert "nosuchnet" in task["detail_state"]
    assert not lxd.instances.exists(name)


def test_failed_catalog_import_aborts_at_importing(stack: Stack, lxd) -> None:
    name = unique_name("noimg")

    task = stack.create("appcenter", "lxc", {"name": name, "image": "broken"})

    assert task["state"] == "aborted"
    assert task["error"]["step"] == "importing"
    assert not lxd.instances.exists(name)


def test_thirty_parallel_creates_on_sqlite_end_as_thirty_tasks(
    stack: Stack, made
) -> None:
    create_in_parallel(stack, made, 30)

    assert "database is locked" not in stack.logs()


def create_in_parallel(stack: Stack, made: list, count: int) -> None:
    """Send ``count`` creates at once; each must become its own completed task."""
    names = [unique_name(f"p{i}") for i in range(count)]
    made.extend(("docker", name) for name in names)

    def ask(name: str) -> requests.Response:
        body = {"name": name, "image": "ctstation-local/box", "start": False}
        return stack.post("/image/create/local/docker", body)

    with ThreadPoolExecutor(count) as pool:
        responses = list(pool.map(ask, names))

    assert [r.status_code for r in responses] == [202] * count, [
        r.text for r in responses
    ]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == count
    finals = [stack.wait_final(task_id) for task_id in ids]
    assert {t["state"] for t in finals} == {"completed"}
    assert sorted(t["name"] for t in finals) == sorted(names)


def _forget_catalog_image(lxd: pylxd.Client, name: str) -> None:
    """Remove LXD's copy of a catalog image so that the create has to import it."""
    index = requests.get(CATALOG_URL, timeout=10).json()
    for entry in index["images"]:
        if entry["name"] == name and lxd.images.exists(entry["fingerprint"]):
            lxd.images.get(entry["fingerprint"]).delete(wait=True)


def _forget_local_image(client: docker.DockerClient, reference: str) -> None:
    """Remove a local copy so that the create has to pull through the registry."""
    try:
        client.images.remove(reference, force=True)
    except docker.errors.ImageNotFound:
        pass


def test_lxc_param_the_engine_cannot_honour_is_400_before_any_task(
    stack: Stack,
) -> None:
    before = len(stack.get("/image/create/").json())
    body = {"name": unique_name("host"), "image": "busybox", "hostname": "other"}

    response = stack.post("/image/create/local/lxc", body)

    assert response.status_code == 400, response.text
    assert "hostname" in response.json()["error"]["message"]
    assert len(stack.get("/image/create/").json()) == before


def test_image_on_a_loopback_registry_host_is_inspected_over_http(
    stack: Stack,
) -> None:
    body = {"image": "127.0.0.1:5000/library/busybox", "tag": "1.35"}

    response = stack.post("/image/create/dockerhub/docker", body)

    assert response.status_code == 200, response.text
    assert response.json()["digest"].startswith("sha256:")


def test_event_stream_replays_a_real_task_for_its_user_only(stack: Stack, made) -> None:
    name = unique_name("sse")
    made.append(("docker", name))
    task = stack.create(
        "local", "docker", {"name": name, "image": "ctstation-local/box"}
    )

    def stream(user: str, **headers: str) -> list[dict]:
        response = requests.get(
            f"{stack.url}/events?follow=false",
            headers={**stack.headers(user), **headers},
            timeout=30,
        )
        assert response.status_code == 200
        blocks = [b for b in response.text.split("\n\n") if b.strip()]
        return [dict(line.split(": ", 1) for line in b.splitlines()) for b in blocks]

    mine = [e for e in stream("alice") if f'"id":{task["id"]},' in e["data"]]
    others = [e for e in stream("bob") if f'"name":"{name}"' in e["data"]]

    assert mine[0]["event"] == "ctstation.task.created"
    assert '"state":"completed"' in mine[-1]["data"]
    resumed = stream("alice", **{"Last-Event-ID": mine[-2]["id"]})
    assert mine[-1]["id"] in [e["id"] for e in resumed]
    assert mine[-2]["id"] not in [e["id"] for e in resumed]
    assert others == []
