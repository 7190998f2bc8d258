"""The container API, clone and cancel, on the memory transport and a fake engine."""

import threading

from tests.unit.conftest import Stack

CREATE = "/image/create/dockerhub/docker"


def make(stack: Stack, name: str, user: str = "alice") -> dict:
    response = stack.post(CREATE, {"name": name, "image": "busybox"}, user=user)
    assert response.status_code == 202, response.get_json()
    return stack.wait_final(response.get_json()["id"], user=user)


def test_users_see_their_own_containers_and_admins_all(stack: Stack) -> None:
    make(stack, "a1")
    make(stack, "b1", user="bob")
    stack.engine.add_foreign("foreign")

    alice = stack.get("/container").get_json()
    admin = stack.get("/container", user="root").get_json()

    assert [c["name"] for c in alice] == ["a1"]
    assert alice[0]["owner"] == "alice"
    assert [c["name"] for c in admin] == ["a1", "b1", "foreign"]


def test_others_containers_look_missing(stack: Stack) -> None:
    make(stack, "b1", user="bob")
    stack.engine.add_foreign("foreign")

    for name in ("b1", "foreign"):
        assert stack.get(f"/container/docker/{name}").status_code == 404
        assert stack.put(f"/container/docker/{name}/stop").status_code == 404
        assert stack.delete(f"/container/docker/{name}?force=true").status_code == 404
    assert "b1" in stack.engine.containers
    assert stack.get("/container/docker/foreign", user="root").status_code == 200


def test_stop_start_restart_change_state(stack: Stack) -> None:
    make(stack, "web")

    stopped = stack.put("/container/docker/web/stop").get_json()
    started = stack.put("/container/docker/web/start").get_json()
    restarted = stack.put("/container/docker/web/restart").get_json()

    assert (stopped["state"], started["state"], restarted["state"]) == (
        "stopped", "running", "running")
    assert stack.put("/container/docker/web/pause").status_code == 400


def test_running_container_needs_force_to_delete(stack: Stack) -> None:
    make(stack, "web")

    refused = stack.delete("/container/docker/web")
    forced = stack.delete("/container/docker/web?force=true")

    assert refused.status_code == 409
    assert "force" in refused.get_json()["error"]["message"]
    assert forced.status_code == 200
    assert "web" not in stack.engine.containers


def test_getid_answers_id_or_an_error(stack: Stack) -> None:
    make(stack, "web")

    found = stack.get("/container/docker/getid/web")
    missing = stack.get("/container/docker/getid/nosuch")

    assert found.get_json() == {"id": stack.engine.containers["web"].ref.id}
    assert missing.status_code == 404
    assert "error" in missing.get_data(as_text=True)


def test_post_container_answers_when_the_container_exists(stack: Stack) -> None:
    body = {"type": "docker", "name": "web", "image": "busybox"}

    response = stack.post("/container", body)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["task"]["state"] == "completed"
    assert response.get_json()["container"]["name"] == "web"


def test_clone_is_a_task_in_the_list(stack: Stack) -> None:
    make(stack, "web")

    response = stack.post("/container/docker/web/clone", {"name": "web2"})

    assert response.status_code == 202, response.get_json()
    task = stack.wait_final(response.get_json()["id"])
    assert task["state"] == "completed"
    assert (task["kind"], task["from"], task["image"]) == ("clone", "clone", "web")
    assert task["notes"] == ["ports were not copied"]
    assert stack.engine.containers["web2"].owner == "alice"


def test_clone_refusals_come_before_any_work(stack: Stack) -> None:
    make(stack, "web")
    make(stack, "taken")
    before = len(stack.get("/image/create/").get_json())

    missing = stack.post("/container/docker/nosuch/clone", {"name": "x"})
    taken = stack.post("/container/docker/web/clone", {"name": "taken"})
    invalid = stack.post("/container/docker/web/clone", {"name": "-bad"})
    others = stack.post("/container/docker/web/clone", {"name": "x"}, user="bob")

    assert [r.status_code for r in (missing, taken, invalid, others)] == [
        404, 409, 400, 404]
    assert len(stack.get("/image/create/").get_json()) == before


def test_cancel_of_a_running_task_removes_what_it_made(stack: Stack) -> None:
    stack.engine.pull_gate = threading.Event()
    task = stack.post(CREATE, {"name": "slow", "image": "busybox"}).get_json()

    cancelled = stack.delete(f"/image/create/{task['id']}")
    stack.engine.pull_gate.set()

    assert cancelled.status_code == 200
    assert cancelled.get_json()["state"] == "aborted"
    assert cancelled.get_json()["detail_state"] == "cancelled"
    final = stack.wait_final(task["id"])
    assert final["detail_state"] == "cancelled"
    _wait_until(lambda: "slow" not in stack.engine.containers)
    assert len(stack.get("/image/create/").get_json()) == 1


def test_delete_of_a_finished_task_removes_it_from_the_list(stack: Stack) -> None:
    task = make(stack, "web")

    response = stack.delete(f"/image/create/{task['id']}")

    assert response.get_json() == {"id": task["id"], "deleted": True}
    assert stack.get("/image/create/").get_json() == []
    assert "web" in stack.engine.containers


def test_others_tasks_cannot_be_cancelled(stack: Stack) -> None:
    task = make(stack, "web")

    assert stack.delete(f"/image/create/{task['id']}", user="bob").status_code == 404


def _wait_until(condition, timeout: float = 5) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_cancel_of_a_waiting_task_leaves_nothing_behind(stack: Stack) -> None:
    stack.engine.pull_gate = threading.Event()
    busy = [stack.post(CREATE, {"name": f"busy{i}", "image": "busybox"}).get_json()
            for i in range(2)]  # both executor slots are taken
    waiting = stack.post(CREATE, {"name": "later", "image": "busybox"}).get_json()
    assert stack.get(f"/image/create/{waiting['id']}").get_json()["state"] == "waiting"

    cancelled = stack.delete(f"/image/create/{waiting['id']}").get_json()
    stack.engine.pull_gate.set()

    assert cancelled["detail_state"] == "cancelled"
    for task in busy:
        assert stack.wait_final(task["id"])["state"] == "completed"
    assert stack.wait_final(waiting["id"])["detail_state"] == "cancelled"
    _wait_until(lambda: "later" not in stack.engine.containers)


def test_same_user_name_of_another_installation_sees_nothing(stack: Stack) -> None:
    from executors.engine import ContainerRef
    from tests.fakes import FakeContainer

    ref = ContainerRef("docker", "elsewhere", "idx", 1)
    stack.engine.containers["elsewhere"] = FakeContainer(
        ref, "uid-x", owner="alice", installation="another-installation"
    )

    assert stack.get("/container").get_json() == []
    missing = stack.get("/container/docker/elsewhere").get_json()
    nowhere = stack.get("/container/docker/nowhere").get_json()
    assert missing["error"]["message"] == "no docker container 'elsewhere'"
    assert nowhere["error"]["message"] == "no docker container 'nowhere'"


def test_unknown_container_state_filter_is_400(stack: Stack) -> None:
    assert stack.get("/container?state=bogus").status_code == 400
