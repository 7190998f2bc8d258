"""Listing and purging tasks."""

import threading

from tests.unit.conftest import Stack

URL = "/image/create/dockerhub/docker"


def make_task(stack: Stack, name: str, user: str = "alice", **extra) -> dict:
    body = {"name": name, "image": "busybox", **extra}
    response = stack.post(URL, body, user=user)
    assert response.status_code == 202, response.get_json()
    return stack.wait_final(response.get_json()["id"], user=user)


def test_task_has_every_field_of_the_draft(stack: Stack) -> None:
    make_task(stack, "web", env={"A": "1"})

    [task] = stack.get("/image/create/").get_json()

    draft_fields = {
        "id",
        "init",
        "start",
        "end",
        "result",
        "from",
        "state",
        "detail_state",
        "type",
        "user",
        "image",
        "tag",
        "create_params",
    }
    assert draft_fields <= set(task)
    assert task["from"] == "dockerhub"
    assert task["tag"] == "latest"
    assert task["create_params"]["env"] == {"A": "1"}


def test_users_see_only_their_tasks_and_admins_all(stack: Stack) -> None:
    make_task(stack, "web")
    make_task(stack, "bobweb", user="bob")

    alice = stack.get("/image/create/").get_json()
    bob = stack.get("/image/create/", user="bob").get_json()
    admin = stack.get("/image/create/", user="root").get_json()

    assert [t["user"] for t in alice] == ["alice"]
    assert [t["user"] for t in bob] == ["bob"]
    assert sorted(t["user"] for t in admin) == ["alice", "bob"]
    hidden = stack.get(f"/image/create/{alice[0]['id']}", user="bob")
    assert hidden.status_code == 404


def test_delete_removes_only_finished_tasks_and_answers_their_ids(stack) -> None:
    done = make_task(stack, "web")
    stack.engine.broken_pulls["busybox:latest"] = "registry went away"
    failed = make_task(stack, "other")
    stack.engine.broken_pulls.clear()
    stack.engine.pull_gate = threading.Event()
    unfinished = stack.post(URL, {"name": "slow", "image": "busybox"}).get_json()

    response = stack.client.delete("/api/v1/image/create/", headers=stack.auth())

    stack.engine.pull_gate.set()
    assert failed["state"] == "aborted"
    assert response.status_code == 200
    assert response.get_json() == [done["id"], failed["id"]]
    remaining = stack.get("/image/create/").get_json()
    assert [task["id"] for task in remaining] == [unfinished["id"]]


def test_plain_user_purge_leaves_other_users_tasks(stack: Stack) -> None:
    make_task(stack, "web")
    bob = make_task(stack, "bobweb", user="bob")

    response = stack.client.delete("/api/v1/image/create/", headers=stack.auth())

    assert bob["id"] not in response.get_json()
    assert len(stack.get("/image/create/", user="bob").get_json()) == 1


def test_task_ids_are_not_reused_after_a_purge(stack: Stack) -> None:
    first = make_task(stack, "web")
    stack.client.delete("/api/v1/image/create/", headers=stack.auth())

    second = make_task(stack, "web2")

    assert second["id"] > first["id"]


def test_unknown_filter_values_are_400(stack: Stack) -> None:
    for query in ("state=done", "type=vm", "limit=abc"):
        response = stack.get(f"/image/create/?{query}")

        assert response.status_code == 400, query
        assert query.split("=")[0] in response.get_json()["error"]["message"]


def test_plain_user_cannot_list_another_users_tasks(stack: Stack) -> None:
    response = stack.get("/image/create/?user=alice", user="bob")

    assert response.status_code == 403


def test_list_answers_without_trailing_slash(stack: Stack) -> None:
    make_task(stack, "web")

    assert len(stack.get("/image/create").get_json()) == 1


def test_out_of_range_ids_and_numbers_are_4xx(stack: Stack) -> None:
    assert stack.get("/image/create/99999999999999999999").status_code == 404
    assert stack.get("/image/create/?limit=%C2%B2").status_code == 400
    assert stack.get("/image/create/?offset=99999999999999999999").status_code == 400
