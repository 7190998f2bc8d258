#!/usr/bin/env python3
"""Make the examples of the HTTP reference by running them against a live service.

Every example request in ``docs/*.rst`` is included from ``docs/examples/<name>.txt``:
the request as a curl command line, then the response as the service gave it (status
line, ``Location`` where there is one, and the JSON body, indented). This script runs
the requests in order against a running ctstation, as a plain user and as an admin,
and writes those files; nothing in them is written by hand.

    .venv/bin/python docs/examples.py --url http://127.0.0.1:8080 \\
        --admin-token "$ADMIN_TOKEN" --token "$TOKEN"

or with ``CTSTATION_URL``, ``CTSTATION_ADMIN_TOKEN`` and ``CTSTATION_TOKEN`` set. The
tokens come from ``ctstation user add NAME [--admin]`` (the last line printed). The
service needs the sample images of ``scripts/local-engines.sh``: Docker ``busybox``
(``dockerhub``), Docker ``ctstation-local/box`` (``local``) and LXC ``busybox``
(``local`` and ``appcenter``).

The containers made get names with a random suffix of this run (``web-3fa1``),
and every one of them is deleted at the end, whatever happened. A Docker clone's
committed image (``ctstation-clone/<name>:task-<id>``), which deleting the clone
leaves behind, is removed too with the ``docker`` command when the service runs on
this machine. The files are written only when every request answered the status
its example expects, so a failed run leaves the documentation as it was.
"""

import argparse
import http
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent / "examples"
# Longest single-line curl command; longer ones are split, one option a line.
LINE = 88
TASK_TIMEOUT = 300.0

# How each token appears in the curl commands.
USER, ADMIN, NOBODY = "$TOKEN", "$ADMIN_TOKEN", None


class ExampleError(Exception):
    """A request did not answer what its example is meant to show."""


@dataclass
class Response:
    status: int
    location: str | None
    body: Any


@dataclass
class Examples:
    base: str
    tokens: dict[str, str]
    written: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        who: str | None = USER,
        body: Any = None,
        raw: str | None = None,
        content_type: str | None = "application/json",
    ) -> Response:
        """Send one request; any status is an answer, not an exception."""
        data = None
        headers = {"Accept": "application/json"}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        if body is not None or raw is not None:
            data = (raw if raw is not None else json.dumps(body)).encode()
            if content_type:
                headers["Content-Type"] = content_type
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=TASK_TIMEOUT) as answer:
                status, headers_in, text = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers_in, text = error.code, error.headers, error.read()
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text.decode(errors="replace")
        return Response(status, headers_in.get("Location"), parsed)

    def example(
        self,
        name: str,
        method: str,
        path: str,
        expect: int,
        who: str | None = USER,
        body: Any = None,
        raw: str | None = None,
        content_type: str | None = "application/json",
    ) -> Any:
        """Run one example request, keep it as ``name``, and answer its body.

        Raises:
            ExampleError: the status was not ``expect``.
        """
        response = self.call(method, path, who, body, raw, content_type)
        command = curl(method, self.base + path, who, body, raw, content_type)
        text = f"$ {command}\n{status_line(response.status)}\n"
        if response.location:
            text += f"Location: {response.location}\n"
        shown = (
            json.dumps(response.body, indent=4, ensure_ascii=False)
            if not isinstance(response.body, str)
            else response.body
        )
        text += f"\n{shown}\n"
        print(f"{name}: {response.status}", file=sys.stderr)
        if response.status != expect:
            raise ExampleError(
                f"{name}: expected {expect}, got {response.status}:\n{text}"
            )
        self.written[name] = text
        return response.body

    def wait(self, task_id: int, who: str = USER) -> dict[str, Any]:
        """The task once it is completed or aborted (not kept as an example)."""
        deadline = time.monotonic() + TASK_TIMEOUT
        while time.monotonic() < deadline:
            task = self.call("GET", f"/api/v1/image/create/{task_id}", who).body
            if task["state"] in ("completed", "aborted"):
                return task
            time.sleep(0.5)
        raise ExampleError(f"task {task_id} did not end in {TASK_TIMEOUT:g} s")

    def save(self) -> None:
        EXAMPLES.mkdir(exist_ok=True)
        for stale in EXAMPLES.glob("*.txt"):
            if stale.stem not in self.written:
                stale.unlink()
        for name, text in self.written.items():
            (EXAMPLES / f"{name}.txt").write_text(text)


def curl(
    method: str,
    url: str,
    who: str | None,
    body: Any,
    raw: str | None,
    content_type: str | None,
) -> str:
    """The request as a curl command line, tokens as shell variables."""
    options: list[str] = []
    has_body = body is not None or raw is not None
    first = "curl -s"
    if method != "GET" and not (method == "POST" and has_body):
        first += f" -X {method}"
    if who is not None:
        options.append(f'-H "Authorization: Bearer {who}"')
    if has_body:
        if content_type:
            options.append(f"-H {shlex.quote('Content-Type: ' + content_type)}")
        data = raw if raw is not None else json.dumps(body)
        options.append(f"-d {shlex.quote(data)}")
    words = [first, *options, shlex.quote(url)]
    single = " ".join(words)
    if len(single) + 2 <= LINE:
        return single
    return " \\\n    ".join(words)


def status_line(status: int) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}".rstrip()


def run(ex: Examples, run_id: str, made: list[tuple[str, str]]) -> None:
    """Every example, in order; each container is added to ``made`` (type, name)
    before the request that makes it."""
    web, sys_, box, gone = (
        f"{kind}-{run_id}" for kind in ("web", "sys", "box", "gone")
    )
    tasks = "/api/v1/image/create"
    containers = "/api/v1/container"

    # Service health and authentication.
    ex.example("health", "GET", "/api/v1/health", 200, who=NOBODY)
    ex.example("error-unauthorized", "GET", containers, 401, who=NOBODY)

    # Pre-inspection: no name, no task.
    ex.example(
        "precheck-docker",
        "POST",
        f"{tasks}/dockerhub/docker",
        200,
        body={"image": "busybox", "tag": "1.35"},
    )
    ex.example(
        "precheck-lxc",
        "POST",
        f"{tasks}/appcenter/lxc",
        200,
        body={"image": "busybox"},
    )

    # Create tasks, followed to their end.
    made.append(("docker", web))
    docker_task = ex.example(
        "create-docker",
        "POST",
        f"{tasks}/dockerhub/docker",
        202,
        body={
            "type": "docker",
            "name": web,
            "image": "busybox",
            "tag": "latest",
            "env": {"GREETING": "hello"},
            "ports": [{"host_ip": "127.0.0.1", "container": 80}],
            "labels": {"app": "docs"},
        },
    )
    made.append(("lxc", sys_))
    lxc_task = ex.example(
        "create-lxc",
        "POST",
        f"{tasks}/appcenter/lxc",
        202,
        body={"type": "lxc", "name": sys_, "image": "busybox", "memory": "256MiB"},
    )
    for task in (docker_task, lxc_task):
        if ex.wait(task["id"])["state"] != "completed":
            raise ExampleError(f"task {task['id']} did not complete")
    ex.example("get-task", "GET", f"{tasks}/{docker_task['id']}", 200)
    ex.example("list-tasks", "GET", f"{tasks}/?type=lxc", 200)
    user = docker_task["user"]
    ex.example(
        "list-tasks-admin",
        "GET",
        f"{tasks}/?user={user}&state=completed&limit=1",
        200,
        who=ADMIN,
    )
    ex.example("error-list-tasks-forbidden", "GET", f"{tasks}/?user=admin", 403)

    # Requests refused before any task exists.
    ex.example(
        "error-name-taken",
        "POST",
        f"{tasks}/dockerhub/docker",
        409,
        body={"name": web, "image": "busybox"},
    )
    ex.example(
        "error-image-not-found",
        "POST",
        f"{tasks}/dockerhub/docker",
        404,
        body={"name": f"{web}-2", "image": "no-such-image"},
    )
    ex.example(
        "error-bad-port",
        "POST",
        f"{tasks}/dockerhub/docker",
        400,
        body={"name": f"{web}-2", "image": "busybox", "ports": [{"container": 70000}]},
    )
    ex.example(
        "error-tag-twice",
        "POST",
        f"{tasks}/dockerhub/docker",
        400,
        body={"name": f"{web}-2", "image": "busybox:1.35", "tag": "1.36"},
    )
    ex.example(
        "error-invalid-name",
        "POST",
        f"{tasks}/appcenter/lxc",
        400,
        body={"name": "my_box", "image": "busybox"},
    )
    ex.example(
        "error-unsupported-repository",
        "POST",
        f"{tasks}/appcenter/docker",
        400,
        body={"name": f"{web}-2", "image": "busybox"},
    )
    ex.example(
        "error-privileged-forbidden",
        "POST",
        f"{tasks}/dockerhub/docker",
        403,
        body={"name": f"{web}-2", "image": "busybox", "privileged": True},
    )
    ex.example(
        "error-not-json",
        "POST",
        f"{tasks}/dockerhub/docker",
        415,
        raw="name=web&image=busybox",
        content_type=None,
    )

    # Cancel a task at once, then delete it from the list.
    made.append(("lxc", gone))
    cancelled = ex.call(
        "POST", f"{tasks}/appcenter/lxc", body={"name": gone, "image": "busybox"}
    ).body
    answer = ex.example("cancel-task", "DELETE", f"{tasks}/{cancelled['id']}", 200)
    if answer.get("detail_state") != "cancelled":
        raise ExampleError(
            f"task {cancelled['id']} ended before it could be cancelled; run again"
        )
    ex.example("delete-task", "DELETE", f"{tasks}/{cancelled['id']}", 200)
    ex.example("error-task-not-found", "GET", f"{tasks}/{cancelled['id']}", 404)

    # The container API.
    ex.example("list-containers", "GET", containers, 200)
    ex.example(
        "list-containers-filtered",
        "GET",
        f"{containers}?type=lxc&state=running",
        200,
    )
    docker_details = ex.example(
        "inspect-docker", "GET", f"{containers}/docker/{web}", 200
    )
    ex.example("inspect-lxc", "GET", f"{containers}/lxc/{sys_}", 200)
    ex.example("getid", "GET", f"{containers}/docker/getid/{web}", 200)
    ex.example(
        "inspect-by-id",
        "GET",
        f"{containers}/docker/{docker_details['id'][:12]}",
        200,
    )
    ex.example(
        "error-container-not-found",
        "GET",
        f"{containers}/docker/getid/no-such-{run_id}",
        404,
    )
    ex.example("stop", "PUT", f"{containers}/docker/{web}/stop", 200)
    ex.example("start", "PUT", f"{containers}/docker/{web}/start", 200)
    ex.example("restart", "PUT", f"{containers}/lxc/{sys_}/restart", 200)
    ex.example("error-start-running-lxc", "PUT", f"{containers}/lxc/{sys_}/start", 502)
    ex.example("error-unknown-action", "PUT", f"{containers}/docker/{web}/pause", 400)

    # Create from a local image and wait for it.
    made.append(("docker", box))
    ex.example(
        "create-container-docker",
        "POST",
        containers,
        201,
        body={
            "type": "docker",
            "name": box,
            "image": "ctstation-local/box",
            "ports": [{"host_ip": "127.0.0.1", "container": 80}],
        },
    )
    made.append(("lxc", f"{sys_}-b"))
    ex.example(
        "create-container-lxc",
        "POST",
        containers,
        201,
        body={"type": "lxc", "name": f"{sys_}-b", "image": "busybox", "start": False},
    )
    ex.example(
        "error-create-container-no-type",
        "POST",
        containers,
        400,
        body={"name": box, "image": "ctstation-local/box"},
    )
    ex.example(
        "error-create-container-name-taken",
        "POST",
        containers,
        409,
        body={"type": "docker", "name": box, "image": "ctstation-local/box"},
    )

    # Clones.
    made.append(("docker", f"{web}-copy"))
    docker_clone = ex.example(
        "clone-docker",
        "POST",
        f"{containers}/docker/{web}/clone",
        202,
        body={"name": f"{web}-copy"},
    )
    made.append(("lxc", f"{sys_}-copy"))
    lxc_clone = ex.example(
        "clone-lxc",
        "POST",
        f"{containers}/lxc/{sys_}/clone",
        202,
        body={"name": f"{sys_}-copy", "start": False},
    )
    for task in (docker_clone, lxc_clone):
        if ex.wait(task["id"])["state"] != "completed":
            raise ExampleError(f"clone task {task['id']} did not complete")
    ex.example("clone-task", "GET", f"{tasks}/{docker_clone['id']}", 200)
    ex.example(
        "error-clone-name-taken",
        "POST",
        f"{containers}/lxc/{sys_}/clone",
        409,
        body={"name": f"{sys_}-copy"},
    )

    # Deletes.
    ex.example("error-delete-running", "DELETE", f"{containers}/docker/{web}", 409)
    ex.example("delete-force", "DELETE", f"{containers}/docker/{web}?force=true", 200)
    ex.example("delete-stopped", "DELETE", f"{containers}/lxc/{sys_}-copy", 200)
    for kind, name in made:
        ex.call("DELETE", f"{containers}/{kind}/{name}?force=true")
    ex.example("purge-tasks", "DELETE", f"{tasks}/", 200)


def clean_up(ex: Examples, made: list[tuple[str, str]]) -> None:
    """Delete every container this run made, whatever state the run ended in."""
    for kind, name in made:
        answer = ex.call("DELETE", f"/api/v1/container/{kind}/{name}?force=true", ADMIN)
        if answer.status == 200:
            print(f"cleaned up {kind} {name}", file=sys.stderr)


def remove_clone_images(ex: Examples, run_id: str) -> None:
    """Remove the images this run's Docker clones were committed to."""
    host = urllib.parse.urlsplit(ex.base).hostname
    if host not in ("127.0.0.1", "localhost", "::1") or not shutil.which("docker"):
        return
    listed = subprocess.run(
        [
            "docker",
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            f"ctstation-clone/*-{run_id}-*",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    images = listed.stdout.split()
    if images:
        subprocess.run(
            ["docker", "image", "rm", *images], capture_output=True, check=False
        )
        print(f"removed clone images {' '.join(images)}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("CTSTATION_URL"),
        help="base URL of the service (env CTSTATION_URL)",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("CTSTATION_ADMIN_TOKEN"),
        help="API token of an admin (env CTSTATION_ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("CTSTATION_TOKEN"),
        help="API token of a plain user (env CTSTATION_TOKEN)",
    )
    args = parser.parse_args()
    if not (args.url and args.admin_token and args.token):
        parser.error("a URL, an admin token and a user token are all required")

    ex = Examples(args.url.rstrip("/"), {USER: args.token, ADMIN: args.admin_token})
    run_id = secrets.token_hex(2)
    made: list[tuple[str, str]] = []
    try:
        run(ex, run_id, made)
    except ExampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        clean_up(ex, made)
        remove_clone_images(ex, run_id)
    ex.save()
    print(f"wrote {len(ex.written)} examples to {EXAMPLES}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
