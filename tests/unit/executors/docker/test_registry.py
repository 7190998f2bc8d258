"""The registry client against a fake registry on loopback; Docker's naming rules."""

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from contract.images import ImageRef, parse_reference
from executors.docker.registry import Registry, pick_platform
from executors.errors import ImageNotFoundError, ImageSourceError

LIST_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

CONFIG = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/bin", "EMPTY="],
            "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/data": {}},
            "WorkingDir": "/srv",
            "Labels": {"a": "b"},
        },
    }
).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


IMAGE_MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": IMAGE_TYPE,
        "config": {"digest": digest_of(CONFIG), "size": len(CONFIG)},
        "layers": [{"digest": "sha256:" + "1" * 64, "size": 1000}],
    }
).encode()

MANIFEST_LIST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": LIST_TYPE,
        "manifests": [
            {
                "digest": "sha256:" + "a" * 64,
                "platform": {"os": "linux", "architecture": "arm64"},
            },
            {
                "digest": digest_of(IMAGE_MANIFEST),
                "platform": {"os": "linux", "architecture": "amd64"},
            },
        ],
    }
).encode()

# path -> (status, content type, body)
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/v2/library/busybox/manifests/latest": (200, IMAGE_TYPE, IMAGE_MANIFEST),
    "/v2/library/multi/manifests/latest": (200, LIST_TYPE, MANIFEST_LIST),
    f"/v2/library/multi/manifests/{digest_of(IMAGE_MANIFEST)}": (
        200,
        IMAGE_TYPE,
        IMAGE_MANIFEST,
    ),
    f"/v2/library/busybox/blobs/{digest_of(CONFIG)}": (200, "application/json", CONFIG),
    f"/v2/library/multi/blobs/{digest_of(CONFIG)}": (200, "application/json", CONFIG),
    "/v2/library/nolayer/manifests/latest": (200, IMAGE_TYPE, IMAGE_MANIFEST),
    "/v2/library/failing/manifests/latest": (
        503,
        "application/json",
        b'{"errors": [{"code": "UNAVAILABLE", "message": "storage is down"}]}',
    ),
}


UNKNOWN = (
    404,
    "application/json",
    b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}',
)

# Blobs the fake registry has; a HEAD of any other is 404, as for a deleted layer.
LAYERS_PRESENT = {"/v2/library/busybox/blobs/sha256:" + "1" * 64}


class FakeRegistry(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(200 if self.path in LAYERS_PRESENT else 404)
        self.send_header("Content-Length", "1000")
        self.end_headers()

    def do_GET(self) -> None:
        status, content_type, body = ROUTES.get(self.path, UNKNOWN)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 200:
            self.send_header("Docker-Content-Digest", digest_of(body))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_official_images_live_under_library_of_the_configured_hub() -> None:
    registry = Registry("http://127.0.0.1:5000")

    endpoint = registry.endpoint(parse_reference("busybox"))

    assert (endpoint.host, endpoint.insecure, endpoint.repository) == (
        "127.0.0.1:5000",
        True,
        "library/busybox",
    )


def test_user_images_and_docker_io_keep_their_path_on_the_hub() -> None:
    registry = Registry()

    assert registry.endpoint(parse_reference("team/app")).repository == "team/app"
    explicit = registry.endpoint(parse_reference("docker.io/busybox"))
    assert (explicit.host, explicit.repository) == (
        "registry-1.docker.io",
        "library/busybox",
    )


def test_a_registry_host_in_the_reference_is_used_with_https_unless_insecure() -> None:
    registry = Registry(insecure_registries=("registry.test:5000",))

    insecure = registry.endpoint(parse_reference("registry.test:5000/team/app"))
    secure = registry.endpoint(parse_reference("quay.io/team/app"))

    assert (insecure.host, insecure.insecure, insecure.repository) == (
        "registry.test:5000",
        True,
        "team/app",
    )
    assert (secure.host, secure.insecure) == ("quay.io", False)


def test_pick_platform_prefers_linux_amd64_without_variant() -> None:
    manifest_list = {
        "manifests": [
            {"digest": "d1", "platform": {"os": "linux", "architecture": "arm"}},
            {
                "digest": "d2",
                "platform": {"os": "linux", "architecture": "amd64", "variant": "v3"},
            },
            {"digest": "d3", "platform": {"os": "linux", "architecture": "amd64"}},
        ]
    }

    assert pick_platform(manifest_list) == "d3"
    assert pick_platform({"manifests": manifest_list["manifests"][:1]}) is None


def test_inspect_reads_manifest_and_config(registry_url: str) -> None:
    info = Registry(registry_url).inspect(ImageRef("busybox"))

    assert info.digest == digest_of(IMAGE_MANIFEST)
    assert info.size == len(CONFIG) + 1000
    assert (info.architecture, info.os) == ("amd64", "linux")
    assert info.created == "2024-01-02T03:04:05Z"
    assert info.config.command == ["sh"]
    assert info.config.env == {"PATH": "/bin", "EMPTY": ""}
    assert info.config.exposed_ports == ["80/tcp"]
    assert info.config.volumes == ["/data"]
    assert info.config.working_dir == "/srv"
    assert info.config.labels == {"a": "b"}


def test_inspect_follows_a_manifest_list_to_linux_amd64(registry_url: str) -> None:
    info = Registry(registry_url).inspect(ImageRef("multi"))

    assert info.digest == digest_of(MANIFEST_LIST)
    assert info.architecture == "amd64"


def test_unknown_tag_is_image_not_found_with_the_registry_reason(
    registry_url: str,
) -> None:
    with pytest.raises(ImageNotFoundError, match="manifest unknown"):
        Registry(registry_url).inspect(ImageRef("busybox", "nope"))


def test_registry_failure_is_source_error_with_its_reason(registry_url: str) -> None:
    with pytest.raises(ImageSourceError, match=r"503.*storage is down"):
        Registry(registry_url).inspect(ImageRef("failing"))


def test_unreachable_registry_is_source_error() -> None:
    with pytest.raises(ImageSourceError, match="unreachable"):
        Registry("http://127.0.0.1:9").inspect(ImageRef("busybox"))


def test_a_layer_the_registry_cannot_serve_is_named(registry_url: str) -> None:
    registry = Registry(registry_url)

    problem = registry.find_unservable_layer(ImageRef("nolayer"))

    assert problem is not None
    assert "library/nolayer cannot serve layer sha256:1111" in problem
    assert "404" in problem
    assert registry.find_unservable_layer(ImageRef("busybox")) is None


def test_anonymous_bearer_challenge_is_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Docker Hub's flow: 401 with a challenge, a token from the realm, a retry."""
    seen: list[tuple[str, str | None]] = []
    challenge = (
        'Bearer realm="https://auth.test/token",service="registry.test",'
        'scope="repository:library/busybox:pull"'
    )

    def fake_get(url: str, **kwargs: Any) -> requests.Response:
        authorization = (kwargs.get("headers") or {}).get("Authorization")
        seen.append((url, authorization))
        if url.startswith("https://auth.test/token"):
            return response(200, b'{"token": "t0k"}')
        if authorization != "Bearer t0k":
            return response(401, b"{}", {"WWW-Authenticate": challenge})
        if "/manifests/" in url:
            return response(200, IMAGE_MANIFEST, {"Content-Type": IMAGE_TYPE})
        return response(200, CONFIG)

    monkeypatch.setattr(requests, "get", fake_get)

    info = Registry().inspect(ImageRef("busybox"))

    assert info.config.command == ["sh"]
    token_url = seen[1][0]
    assert "service=registry.test" in token_url
    assert "scope=repository%3Alibrary%2Fbusybox%3Apull" in token_url
    assert seen[2] == (
        "https://registry-1.docker.io/v2/library/busybox/manifests/latest",
        "Bearer t0k",
    )


def response(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> requests.Response:
    reply = requests.Response()
    reply.status_code = status
    reply._content = body
    reply.headers.update(headers or {})
    reply._content_consumed = True
    return reply
