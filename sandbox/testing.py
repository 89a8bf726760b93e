"""Helpers for tests and tools that drive the sandbox: run it in a thread, and a small
client for its ``/_controls`` endpoints. The pytest fixtures in tests/fixtures/sandbox.py
are built on these."""

from __future__ import annotations

import threading
from typing import Any, Self

import httpx
from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_app


class SandboxServer:
    """A sandbox app served on ``host`` and a free port from a daemon thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = create_app()
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self.url = f"http://{host}:{self._server.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox-server", daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wake requests sleeping in an injected timeout before shutting down.
        self.app.extensions["sandbox"].reset()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class SandboxControls:
    """Talks to ``<url>/_controls`` over HTTP, so it works for an in-process server and
    for ``python -m sandbox`` alike. Every call raises on a non-2xx answer."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.url}/_controls", timeout=10)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=payload)
        response.raise_for_status()
        return response.json()

    def reset(self, service: str | None = None) -> None:
        """Reset one service, or every service: data, faults and request journal."""
        self._call("POST", f"/{service}/reset" if service else "/reset")

    def faults(self, service: str, **changes: Any) -> dict[str, Any]:
        """Merge fault settings (``latency_ms``, ``fail_next``, ``fail_status``,
        ``timeout_next``, ``timeout_seconds``, ``malformed_next``); returns them all."""
        if not changes:
            return self._call("GET", f"/{service}/faults")
        return self._call("POST", f"/{service}/faults", changes)

    def state(self, service: str, **changes: Any) -> dict[str, Any]:
        """Partially change the data a service serves; returns its whole state."""
        if not changes:
            return self._call("GET", f"/{service}/state")
        return self._call("POST", f"/{service}/state", changes)

    def requests(self, service: str) -> list[dict[str, Any]]:
        """The requests the service answered since its last reset, oldest first."""
        return self._call("GET", f"/{service}/requests")["requests"]

    def request_count(self, service: str) -> int:
        return self._call("GET", f"/{service}/requests")["count"]
