"""The sandbox Flask app: health, one blueprint per stand-in service, and the controls.

Add a service by writing ``sandbox/<name>.py`` with a blueprint and a ``SERVICE =
SandboxService(...)`` and listing it in ``SERVICES``; faults, reset and the request journal
then work for it without further code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from . import carrier, controls, customs, fx, sourcing, tracking
from .state import Sandbox, SandboxService

SERVICES: tuple[SandboxService, ...] = (
    fx.SERVICE,
    customs.SERVICE,
    tracking.SERVICE,
    sourcing.SERVICE,
    carrier.SERVICE,
)

# What a "malformed" fault answers: a 200 with a JSON content type and a cut-off body.
MALFORMED_BODY = '{"truncated": '


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A new sandbox app with its own in-memory state (two apps never share anything)."""
    app = Flask(__name__)
    if config:
        app.config.update(config)
    app.extensions["sandbox"] = Sandbox(list(SERVICES))

    @app.get("/health")
    def health():
        return jsonify(status="ok", services=sorted(app.extensions["sandbox"].services))

    for service in SERVICES:
        app.register_blueprint(service.blueprint)
    app.register_blueprint(controls.blueprint)

    app.before_request(_apply_faults)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Clients parse JSON: answer errors in JSON too, never an HTML page.
        return jsonify(error=exc.name, message=exc.description), exc.code

    return app


def _apply_faults() -> Response | tuple[Response, int] | None:
    """Before a service endpoint runs: add latency and answer an injected fault."""
    runtime = current_app.extensions["sandbox"].services.get(request.blueprint or "")
    if runtime is None:  # /health and /_controls never get faults
        return None
    plan = runtime.admit(method=request.method, path=request.path, query=request.args)
    if plan.latency_seconds and plan.wake.wait(plan.latency_seconds):
        return jsonify(error="reset", message="the sandbox was reset"), 503
    if plan.action == "timeout":
        # Sleep past the client's timeout; a reset wakes us so no thread outlives its test.
        plan.wake.wait(plan.timeout_seconds)
        return jsonify(error="injected_timeout", message="answered too late"), 504
    if plan.action == "fail":
        return jsonify(error="injected_failure", message="injected server error"), (
            plan.fail_status
        )
    if plan.action == "malformed":
        return Response(MALFORMED_BODY, status=200, mimetype="application/json")
    return None
