"""A loopback proxy in front of the test registry that serves layers slowly.

Docker pulls from a registry on 127.0.0.0/8 over plain HTTP without being told, so
``127.0.0.1:PORT/library/pullbox`` pulls through this proxy; a pull then lasts
seconds, long enough for a test to cancel the task while it runs.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

UPSTREAM = "http://127.0.0.1:5000"
CHUNK = 16 * 1024


class _SlowHandler(BaseHTTPRequestHandler):
    bytes_per_second = 100 * 1024

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._proxy(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._proxy(head=False)

    def _proxy(self, head: bool) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream = requests.request(
            "HEAD" if head else "GET",
            UPSTREAM + self.path,
            headers=headers,
            stream=True,
            timeout=30,
        )
        self.send_response(upstream.status_code)
        for key, value in upstream.headers.items():
            if key.lower() not in ("transfer-encoding", "connection"):
                self.send_header(key, value)
        self.end_headers()
        if head:
            return
        slow = "/blobs/" in self.path
        try:
            for chunk in upstream.iter_content(CHUNK):
                self.wfile.write(chunk)
                if slow:
                    time.sleep(len(chunk) / self.bytes_per_second)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the puller gave up: what a cancelled pull does

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def slow_registry() -> Iterator[str]:
    """Run the proxy; yields its host:port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
