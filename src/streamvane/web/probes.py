"""Health probes and Prometheus metrics on one port, for the worker and the dispatcher.

- ``/healthz``: 200 while the process serves requests (liveness).
- ``/readyz``: 200 once ``ready()`` returns None; else 503 with the reason it returns (what the
  process still waits for: Kafka, partition assignment, state restored from the changelogs,
  profiles loaded). Kubernetes' readiness probe.
- ``/metrics``: the process's registry in the Prometheus text format.

A plain threaded HTTP server: it answers while the process's event loop is busy or blocked,
which is what a liveness probe must see. Binds ``host`` (127.0.0.1 unless configured; a pod binds
0.0.0.0 so the kubelet and Prometheus can reach it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Ready = Callable[[], str | None]


class ProbeServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry, ready: Ready) -> None:
        self.registry, self.ready = registry, ready
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    self._send(200, b"ok\n")
                elif path == "/readyz":
                    try:
                        waiting = server.ready()
                    except Exception as exc:  # noqa: BLE001 (a probe must answer, whatever the check hit)
                        waiting = f"readiness check failed: {type(exc).__name__}"
                    if waiting is None:
                        self._send(200, b"ready\n")
                    else:
                        self._send(503, f"not ready: {waiting}\n".encode())
                else:
                    self._send(404, b"not found\n")

            def _send(
                self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Probes every few seconds are not news."""

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="probes", daemon=True)

    def start(self) -> ProbeServer:
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
