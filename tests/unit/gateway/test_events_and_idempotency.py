"""Idempotent requests, and the event log replayed as Server-Sent Events."""

from tests.unit.conftest import Stack

CREATE = "/api/v1/image/create/dockerhub/docker"
BODY = {"name": "web", "image": "busybox"}


def post_with_key(stack: Stack, key: str, user: str = "alice", body=BODY):
    headers = {**stack.auth(user), "Idempotency-Key": key}
    return stack.client.post(CREATE, json=body, headers=headers)


def test_repeat_with_the_same_key_answers_the_first_task(stack: Stack) -> None:
    first = post_with_key(stack, "k1")
    stack.wait_final(first.get_json()["id"])

    again = post_with_key(stack, "k1")

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert stack.tasks.count() == 1


def test_keys_belong_to_their_user(stack: Stack) -> None:
    alice = post_with_key(stack, "same")
    bob = post_with_key(stack, "same", user="bob", body={**BODY, "name": "web2"})

    assert alice.status_code == bob.status_code == 202
    assert alice.get_json()["id"] != bob.get_json()["id"]


def read_events(stack: Stack, user: str = "alice", **headers: str) -> list[dict]:
    response = stack.client.get("/api/v1/events?follow=false",
                                headers={**stack.auth(user), **headers})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = []
    for block in response.get_data(as_text=True).strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append(fields)
    return events


def test_events_replay_a_task_from_request_to_end(stack: Stack) -> None:
    task = stack.post("/image/create/dockerhub/docker", BODY).get_json()
    stack.wait_final(task["id"])

    events = read_events(stack)

    types = [e["event"] for e in events]
    assert types[0] == "ctstation.task.created"
    assert types[-1] == "ctstation.task.state.changed"
    assert '"state":"completed"' in events[-1]["data"]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    resumed = read_events(stack, **{"Last-Event-ID": str(ids[-2])})
    assert [e["id"] for e in resumed] == [str(ids[-1])]


def test_events_show_a_user_only_their_own_tasks(stack: Stack) -> None:
    task = stack.post("/image/create/dockerhub/docker", BODY).get_json()
    stack.wait_final(task["id"])

    bob = stack.client.get("/api/v1/events?follow=false", headers=stack.auth("bob"))

    assert bob.get_data(as_text=True) == ""
    assert read_events(stack, user="root")
