"""Wrong create requests get a JSON 4xx and make no task."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.unit.conftest import Stack

URL = "/api/v1/image/create/dockerhub/docker"
PATH = "/image/create/dockerhub/docker"
BUSYBOX = {"type": "docker", "name": "web", "image": "busybox", "tag": "latest"}


def assert_refused(stack: Stack, response, status: int, words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert words in error["message"]
    assert stack.tasks.count() == 0
    assert stack.engine.containers == {}


@pytest.mark.parametrize(
    ("data", "content_type", "status", "words"),
    [
        ("{not json", "application/json", 400, "not valid JSON"),
        ("", "application/json", 400, "not valid JSON"),
        ("[1, 2]", "application/json", 400, "JSON object, not list"),
        ('{"name": "web", "image": "busybox"}', None, 415, "Content-Type"),
    ],
)
def test_unreadable_bodies_are_refused(stack, data, content_type, status, words):
    headers = stack.auth()
    if content_type:
        headers["Content-Type"] = content_type

    response = stack.client.post(URL, data=data, headers=headers)

    assert_refused(stack, response, status, words)


def test_type_in_body_must_match_path(stack: Stack) -> None:
    response = stack.post("/image/create/dockerhub/docker", {**BUSYBOX, "type": "lxc"})

    assert_refused(stack, response, 400, "differs")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/image/create/quay/docker", "unknown image repository"),
        ("/image/create/local/vm", "unknown image repository"),
        ("/image/create/appcenter/docker", "cannot be created from appcenter"),
        ("/image/create/dockerhub/lxc", "cannot be created from dockerhub"),
    ],
)
def test_unsupported_pairs_are_refused(stack: Stack, path: str, words: str) -> None:
    assert_refused(stack, stack.post(path, BUSYBOX), 400, words)


def test_tag_given_twice_differently_is_refused(stack: Stack) -> None:
    body = {**BUSYBOX, "image": "busybox:1.35", "tag": "1.36"}

    assert_refused(
        stack,
        stack.post("/image/create/dockerhub/docker", body),
        400,
        "tag given twice",
    )


@pytest.mark.parametrize(
    ("ports", "field"),
    [
        ([{"container": 0}], "ports.0.container"),
        ([{"container": 70000}], "ports.0.container"),
        ([{"container": 80, "protocol": "icmp"}], "ports.0.protocol"),
        ([{"container": 80, "host_ip": "not-an-ip"}], "ports.0.host_ip"),
    ],
)
def test_bad_port_mappings_name_the_field(stack: Stack, ports, field) -> None:
    response = stack.post("/image/create/dockerhub/docker", {**BUSYBOX, "ports": ports})

    assert_refused(stack, response, 400, field)
    assert response.get_json()["error"]["fields"][0]["field"] == field


def test_unknown_param_is_refused(stack: Stack) -> None:
    response = stack.post("/image/create/dockerhub/docker", {**BUSYBOX, "cpus": 2})

    assert_refused(stack, response, 400, "cpus")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/image/create/dockerhub/docker", "-web"),
        ("/image/create/local/lxc", "1web"),
        ("/image/create/local/lxc", "web_1"),
        ("/image/create/local/lxc", "a" * 64),
    ],
)
def test_invalid_names_are_refused(stack: Stack, path: str, name: str) -> None:
    body = {"name": name, "image": "busybox"}

    assert_refused(stack, stack.post(path, body), 400, "invalid")


def test_taken_name_is_refused_before_pull(stack: Stack) -> None:
    stack.engine.pull_gate = threading.Event()  # a pull would hang the test
    first = stack.post("/image/create/dockerhub/docker", BUSYBOX).get_json()
    stack.engine.pull_gate.set()
    stack.wait_final(first["id"])

    response = stack.post("/image/create/dockerhub/docker", BUSYBOX)

    assert response.status_code == 409
    assert "web" in response.get_json()["error"]["message"]
    assert stack.tasks.count() == 1


def test_privileged_is_forbidden_for_plain_users(stack: Stack) -> None:
    response = stack.post(PATH, {**BUSYBOX, "privileged": True})

    assert_refused(stack, response, 403, "privileged")


def test_host_bind_mount_is_forbidden_for_plain_users(stack: Stack) -> None:
    volumes = [{"source": "/etc", "target": "/mnt"}]

    response = stack.post(PATH, {**BUSYBOX, "volumes": volumes})

    assert_refused(stack, response, 403, "/etc")


def test_unauthenticated_request_is_401_json(stack: Stack) -> None:
    response = stack.client.post(URL, json=BUSYBOX)

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert stack.tasks.count() == 0


def test_basic_auth_with_password_works(stack: Stack) -> None:
    response = stack.client.get(
        "/api/v1/image/create/", auth=("alice", "alice-password")
    )

    assert response.status_code == 200


def test_wrong_password_is_401(stack: Stack) -> None:
    response = stack.client.get("/api/v1/image/create/", auth=("alice", "nope"))

    assert response.status_code == 401


def test_thirty_parallel_requests_make_thirty_tasks(stack: Stack) -> None:
    def create(index: int):
        body = {**BUSYBOX, "name": f"web{index}"}
        return stack.post("/image/create/dockerhub/docker", body)

    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(create, range(30)))

    assert [r.status_code for r in responses] == [202] * 30
    ids = {r.get_json()["id"] for r in responses}
    assert len(ids) == 30
    finals = [stack.wait_final(task_id, timeout=30) for task_id in ids]
    assert {task["state"] for task in finals} == {"completed"}
    assert len(stack.engine.containers) == 30


def test_name_held_by_an_unfinished_task_is_409(stack: Stack) -> None:
    stack.engine.pull_gate = threading.Event()  # keeps the first task running
    first = stack.post(PATH, BUSYBOX)

    second = stack.post(PATH, BUSYBOX)

    stack.engine.pull_gate.set()
    assert first.status_code == 202
    assert second.status_code == 409
    assert f"task {first.get_json()['id']}" in second.get_json()["error"]["message"]
    assert stack.tasks.count() == 1


def test_type_mismatch_message_names_plain_types(stack: Stack) -> None:
    response = stack.post(PATH, {**BUSYBOX, "type": "lxc"})

    message = response.get_json()["error"]["message"]
    assert message == "type 'lxc' in the body differs from 'docker' in the path"


def test_wrong_credentials_say_so(stack: Stack) -> None:
    response = stack.client.post(URL, json=BUSYBOX,
                                 headers={"Authorization": "Bearer cts_wrong"})

    assert response.status_code == 401
    assert "invalid credentials" in response.get_json()["error"]["message"]


def test_auth_scheme_is_case_insensitive(stack: Stack) -> None:
    headers = {"Authorization": f"bearer {stack.tokens['alice']}"}

    response = stack.client.get("/api/v1/image/create/", headers=headers)

    assert response.status_code == 200


def test_devices_are_forbidden_for_plain_users(stack: Stack) -> None:
    response = stack.post(PATH, {**BUSYBOX, "devices": ["/dev/null"]})

    assert_refused(stack, response, 403, "devices")
    assert response.get_json()["error"]["param"] == "devices"


def test_admins_get_dangerous_params_only_where_the_server_allows(
    stack: Stack, settings
) -> None:
    body = {**BUSYBOX, "privileged": True, "devices": ["/dev/null"],
            "volumes": [{"source": "/srv/data/app", "target": "/data"}]}

    refused = stack.post(PATH, body, user="root")
    settings.allow_privileged = settings.allow_devices = True
    settings.allowed_host_paths = ["/srv/data"]
    allowed = stack.post(PATH, body, user="root")
    outside = stack.post(PATH, {**body, "name": "web2",
                                "volumes": [{"source": "/srv/data/../../etc",
                                             "target": "/x"}]}, user="root")

    assert refused.status_code == 403
    assert "on this server" in refused.get_json()["error"]["message"]
    assert allowed.status_code == 202, allowed.get_json()
    assert outside.status_code == 403


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"name": "web\n"}, "invalid docker name"),
        ({"memory": 10**30}, "memory"),
        ({"cpu": "NaN"}, "cpu"),
        ({"env": {"A": "x\x00y"}}, "NUL"),
        ({"image": "a" * 300}, "longer than 255"),
    ],
)
def test_values_the_engines_would_refuse_are_400(stack: Stack, change, words) -> None:
    response = stack.post(PATH, {**BUSYBOX, **change})

    assert_refused(stack, response, 400, words)


def test_deeply_nested_body_is_400(stack: Stack) -> None:
    headers = {**stack.auth(), "Content-Type": "application/json"}

    response = stack.client.post(URL, data="[" * 5000, headers=headers)

    assert response.status_code == 400
