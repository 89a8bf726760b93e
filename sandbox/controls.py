"""``/_controls``: how tests inspect the sandbox and inject faults, per service (JSON).

- ``GET  /_controls``                       every service: faults, state, request count
- ``POST /_controls/reset``                 reset every service
- ``POST /_controls/<service>/reset``       reset one service (data, faults, journal)
- ``GET|POST /_controls/<service>/faults``  read / merge faults (see ``state.Faults``)
- ``GET|POST /_controls/<service>/state``   read / partially change the served data
- ``GET  /_controls/<service>/requests``    the requests the service answered, oldest first
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from .state import ControlError, Sandbox, ServiceRuntime

blueprint = Blueprint("controls", __name__, url_prefix="/_controls")


def _sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]


def _runtime(service: str) -> ServiceRuntime:
    runtime = _sandbox().services.get(service)
    if runtime is None:
        abort(404, description=f"no sandbox service named {service!r}")
    return runtime


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError("send a JSON object")
    return body


@blueprint.errorhandler(ControlError)
def _control_error(exc: ControlError):
    return jsonify(error="bad_control", message=str(exc)), 400


@blueprint.get("")
def overview():
    return jsonify(services={name: rt.as_json() for name, rt in _sandbox().services.items()})


@blueprint.post("/reset")
def reset_all():
    _sandbox().reset()
    return jsonify(reset=sorted(_sandbox().services))


@blueprint.post("/<service>/reset")
def reset_service(service: str):
    _runtime(service).reset()
    return jsonify(reset=[service])


@blueprint.route("/<service>/faults", methods=["GET", "POST"])
def faults(service: str):
    runtime = _runtime(service)
    if request.method == "POST":
        runtime.update_faults(_json_body())
    return jsonify(runtime.as_json()["faults"])


@blueprint.route("/<service>/state", methods=["GET", "POST"])
def state(service: str):
    runtime = _runtime(service)
    if request.method == "POST":
        runtime.update_state(_json_body())
    return jsonify(runtime.state_json())


@blueprint.get("/<service>/requests")
def requests_answered(service: str):
    return jsonify(_runtime(service).requests_json())
