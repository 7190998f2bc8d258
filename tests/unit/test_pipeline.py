"""The whole create path in one process, on the memory transport and a fake engine."""

from tests.unit.conftest import Stack

BUSYBOX = {"type": "docker", "name": "web", "image": "busybox", "tag": "latest"}


def test_create_request_becomes_completed_task_with_container(stack: Stack) -> None:
    response = stack.post("/image/create/dockerhub/docker", BUSYBOX)

    assert response.status_code == 202, response.get_json()
    task = response.get_json()
    assert task["state"] == "waiting"
    assert task["user"] == "alice"
    final = stack.wait_final(task["id"])
    assert final["state"] == "completed"
    assert final["result"] == 0
    assert final["detail_state"] == "done"
    assert final["init"] <= final["start"] <= final["end"]
    assert stack.engine.containers["web"].state == "running"
    assert stack.engine.containers["web"].ref.task_id == task["id"]
    assert final["progress"] == {"current": 50, "total": 100}


def test_without_name_only_preinspects(stack: Stack) -> None:
    body = {"image": "busybox"}

    response = stack.post("/image/create/dockerhub/docker", body)

    assert response.status_code == 200
    assert response.get_json()["tag"] == "latest"
    assert stack.get("/image/create/").get_json() == []


def test_unknown_image_is_404_and_makes_no_task(stack: Stack) -> None:
    body = {**BUSYBOX, "image": "nosuch", "tag": "9"}

    response = stack.post("/image/create/dockerhub/docker", body)

    assert response.status_code == 404
    assert "nosuch:9" in response.get_json()["error"]["message"]
    assert stack.get("/image/create/").get_json() == []


def test_broken_pull_aborts_at_pulling_without_create(stack: Stack) -> None:
    stack.engine.broken_pulls["busybox:latest"] = "blob unknown to registry"

    task = stack.post("/image/create/dockerhub/docker", BUSYBOX).get_json()

    final = stack.wait_final(task["id"])
    assert final["state"] == "aborted"
    assert final["result"] != 0
    assert final["detail_state"].startswith("pulling failed")
    assert "blob unknown to registry" in final["detail_state"]
    assert stack.engine.containers == {}


def test_failed_start_aborts_at_starting_and_removes_container(stack: Stack) -> None:
    stack.engine.failing_starts["web"] = "port is already allocated"

    task = stack.post("/image/create/dockerhub/docker", BUSYBOX).get_json()

    final = stack.wait_final(task["id"])
    assert final["state"] == "aborted"
    assert final["error"]["step"] == "starting"
    assert "port is already allocated" in final["detail_state"]
    assert stack.engine.removed == ["web"]
    assert stack.engine.containers == {}
