"""Helpers for tests and tools that drive the sandbox: run it in a thread, and a small
client for its ``/_controls`` endpoints. The pytest fixtures in tests/fixtures/sandbox.py
are built on these. Also the same for the Stripe stand-in (``StripeLocalServer``,
``StripeLocalControls``, sandbox/stripe_local.py; fixtures in tests/fixtures/stripe.py) and
a tiny webhook receiver (``WebhookReceiver``)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar, Self

import httpx
from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_app

if TYPE_CHECKING:
    from .stripe_local import WebhookEndpoint


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


# --- Stripe (localstripe, sandbox/stripe_local.py) ---------------------------------------


class StripeLocalServer:
    """localstripe with our additions (sandbox/stripe_local.py) on ``host`` and a free
    port, on its own asyncio loop in a daemon thread.

    localstripe keeps its objects and webhooks in module globals, so only one runs per
    process at a time (a second ``start()`` raises). Raises ``ImportError`` when localstripe
    (a dev requirement) is not installed.
    """

    _running: ClassVar[StripeLocalServer | None] = None
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhooks: Sequence[WebhookEndpoint] = (),
    ) -> None:
        # Imported here: sandbox.testing must keep working where localstripe is missing.
        from aiohttp import web

        from . import stripe_local

        self._web = web
        self._stripe_local = stripe_local
        self._webhooks = tuple(webhooks)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        self.js_url = f"{self.url}/js.stripe.com/v3/"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="stripe-local", daemon=True)

    def _serve(self) -> None:
        web = self._web
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            app = self._stripe_local.create_app(webhooks=self._webhooks)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, self._sock).start())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            loop.close()
            return
        self.app = app
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def start(self) -> Self:
        with StripeLocalServer._running_lock:
            if StripeLocalServer._running is not None:
                self._sock.close()
                self._loop.close()
                raise RuntimeError(
                    f"a StripeLocalServer already runs at {StripeLocalServer._running.url}; "
                    "localstripe keeps its data in module globals, so one per process"
                )
            StripeLocalServer._running = self
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._failure is not None or not self._ready.is_set():
            with StripeLocalServer._running_lock:
                StripeLocalServer._running = None
            raise RuntimeError("localstripe did not start") from self._failure
        return self

    def stop(self) -> None:
        def shut_down() -> None:
            # Wake requests held by an injected timeout, drop pending webhook deliveries
            # and the data, then leave run_forever.
            self.app[self._stripe_local.STATE].reset()
            self._loop.stop()

        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(shut_down)
            self._thread.join(timeout=10)
        with StripeLocalServer._running_lock:
            if StripeLocalServer._running is self:
                StripeLocalServer._running = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class StripeLocalControls:
    """Talks to a stripe_local server over HTTP: its ``/_controls`` and what Stripe.js would
    do in a browser (``confirm_card``, ``authenticate``). Control calls raise on a non-2xx
    answer; the Stripe.js calls return Stripe's JSON (``{"error": ...}`` on failure)."""

    def __init__(self, url: str, *, publishable_key: str = "pk_test_localstripe") -> None:
        self.url = url.rstrip("/")
        self.publishable_key = publishable_key
        self._http = httpx.Client(base_url=self.url, timeout=10)

    def close(self) -> None:
        self._http.close()

    def _control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, f"/_controls{path}", json=payload)
        response.raise_for_status()
        return response.json()

    def overview(self) -> dict[str, Any]:
        """Faults, object counts by kind, webhooks, idempotency keys held, request count."""
        return self._control("GET", "")

    def reset(self) -> None:
        """Empty store, no faults, no idempotency results or journal, startup webhooks only."""
        self._control("POST", "/reset")

    def faults(self, **changes: Any) -> dict[str, Any]:
        """Merge fault settings (``latency_ms``, ``fail_next``, ``fail_status``,
        ``timeout_next``, ``timeout_seconds``, ``drop_next``); returns them all."""
        if not changes:
            return self._control("GET", "/faults")
        return self._control("POST", "/faults", changes)

    def requests(self) -> list[dict[str, Any]]:
        """The ``/v1/*`` requests since the last reset, oldest first: ``method``, ``path``,
        ``idempotency_key``, ``fault``, ``status`` (None when dropped), ``replayed``."""
        return self._control("GET", "/requests")["requests"]

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every stored object of a kind (``payment_intent``, ``refund``, ``charge``,
        ``event``...), oldest first, as the API would show them."""
        return self._control("GET", f"/objects/{kind}")["data"]

    def webhook_register(
        self,
        url: str,
        secret: str,
        *,
        events: Sequence[str] | None = None,
        webhook_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Post events (all, or ``events``) to ``url``, signed with ``secret``, until reset."""
        payload: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            payload["events"] = list(events)
        if webhook_id:
            payload["id"] = webhook_id
        return self._control("POST", "/webhooks", payload)["webhooks"]

    def confirm_card(
        self,
        payment_intent_id: str,
        client_secret: str,
        card_number: str,
        *,
        exp_month: int = 12,
        exp_year: int | None = None,
        cvc: str = "123",
    ) -> dict[str, Any]:
        """What the Stripe.js shim's ``confirmCardPayment`` sends: the PaymentIntent as
        JSON, or ``{"error": {...}}`` (declines: 402 card_error with the intent)."""
        card = {
            "number": card_number,
            "exp_month": str(exp_month),
            "exp_year": str(exp_year or date.today().year + 3),  # noqa: DTZ011
            "cvc": cvc,
        }
        response = self._http.post(
            f"/v1/payment_intents/{payment_intent_id}/_confirm_card",
            content=json.dumps(
                {"key": self.publishable_key, "client_secret": client_secret, "card": card}
            ),
        )
        return response.json()

    def authenticate(
        self, payment_intent_id: str, client_secret: str, *, success: bool = True
    ) -> dict[str, Any]:
        """Complete (or fail) the 3D Secure step, as localstripe's modal does."""
        response = self._http.post(
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            params={"success": "true" if success else "false"},
            content=json.dumps({"key": self.publishable_key, "client_secret": client_secret}),
        )
        return response.json()


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST a ``WebhookReceiver`` got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def signature(self) -> str:
        return self.headers.get("stripe-signature", "")

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    """A tiny HTTP server in a daemon thread that records every POST and answers
    ``status`` (200 by default): stands in for our webhook endpoint in client tests."""

    def __init__(self, *, host: str = "127.0.0.1", status: int = 200) -> None:
        self.status = status
        self.deliveries: list[WebhookDelivery] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                delivery = WebhookDelivery(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                )
                with receiver._changed:
                    receiver.deliveries.append(delivery)
                    receiver._changed.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/stripe/webhook/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )

    def wait_for(self, event_type: str, *, timeout: float = 10.0) -> WebhookDelivery:
        """The first delivery of an event of ``event_type``; raises ``TimeoutError`` when
        none arrives in ``timeout`` seconds (localstripe delivers about 1 s after)."""

        def found() -> WebhookDelivery | None:
            return next((d for d in self.deliveries if d.event.get("type") == event_type), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout=timeout):
                types = [d.event.get("type") for d in self.deliveries]
                raise TimeoutError(f"no {event_type} webhook within {timeout}s (got {types})")
            delivery = found()
        assert delivery is not None
        return delivery

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
