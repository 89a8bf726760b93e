"""Parcel tracking stand-in: domestic carriers and the international leg.

``GET /tracking/parcels?carrier=cj&numbers=A,B,C`` answers, per number asked, the events
the carrier reports for it, in the carrier's order (which need not be time order, and may
repeat an event)::

    {"carrier": "cj",
     "parcels": [{"number": "A", "events": [{"id": "...", "code": "picked_up",
                  "occurred_at": "2026-01-05T09:00:00+09:00", "location": "...",
                  "description": "..."}]},
                 {"number": "B", "events": []}]}

An unknown parcel has no events. Carriers: ``DOMESTIC_CARRIERS`` and ``gs-intl`` (the
international leg); another carrier → ``400 unknown_carrier``; more than ``MAX_NUMBERS``
numbers → ``400 too_many_numbers``.

State (``/_controls/tracking/state``), all-or-nothing::

    {"add_events": [{"carrier": "cj", "number": "A", "id": "e1", "code": "picked_up",
                     "occurred_at": "...", "location": "...", "description": "..."}],
     "parcels": {"cj:A": [...events...] | null},
     "simulate": false}

``add_events`` appends in the given order (the same id twice is served twice, an older
event after a newer one is served so: duplicates and out-of-order are the tests' to make);
``parcels`` replaces or removes (``null``) a parcel's events. A parcel touched by the
controls is *scripted*: simulation leaves it alone.

Simulation (``simulate``, on by default so ``make run`` needs no manual steps): every
answer about an unscripted parcel first advances it one step along its carrier's route
(``ROUTES``): the first poll after a parcel is created returns ``picked_up``, the next the
step after, and so on until ``delivered``. Tests that script parcels turn it off.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request

from .state import ControlError, SandboxService, runtime_for

SEOUL = ZoneInfo("Asia/Seoul")
DOMESTIC_CARRIERS = ("cj", "hanjin", "lotte", "epost")
INTERNATIONAL_CARRIER = "gs-intl"
CARRIERS = (*DOMESTIC_CARRIERS, INTERNATIONAL_CARRIER)
CODES = (
    "picked_up",
    "departed_us",
    "arrived_korea",
    "customs_cleared",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
)
MAX_NUMBERS = 100
EVENT_FIELDS = {"id", "code", "occurred_at", "location", "description"}

DOMESTIC_ROUTE = (
    ("picked_up", "물류센터", "상품을 인수했습니다."),
    ("in_transit", "허브 터미널", "배송 중입니다."),
    ("out_for_delivery", "배송 지점", "배송 기사가 배송을 시작했습니다."),
    ("delivered", "수령지", "배송을 완료했습니다."),
)
INTERNATIONAL_ROUTE = (
    ("picked_up", "Los Angeles, CA", "Picked up from the supplier."),
    ("departed_us", "LAX", "Departed the US."),
    ("arrived_korea", "인천공항", "한국에 도착했습니다."),
    ("customs_cleared", "인천세관", "통관이 완료되었습니다."),
    ("out_for_delivery", "배송 지점", "배송 기사가 배송을 시작했습니다."),
    ("delivered", "수령지", "배송을 완료했습니다."),
)
ROUTES = dict.fromkeys(DOMESTIC_CARRIERS, DOMESTIC_ROUTE) | {
    INTERNATIONAL_CARRIER: INTERNATIONAL_ROUTE
}

blueprint = Blueprint("tracking", __name__, url_prefix="/tracking")


def parcel_key(carrier: str, number: str) -> str:
    return f"{carrier}:{number}"


class TrackingState:
    """Parcels keyed ``carrier:number``: their events and whether a test scripted them.
    Has its own lock because answering a poll may advance a simulated parcel."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.simulate = True
        self.parcels: dict[str, dict[str, Any]] = {}

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {"simulate": self.simulate, "parcels": copy.deepcopy(self.parcels)}

    def update(self, changes: Mapping[str, Any]) -> None:
        unknown = set(changes) - {"add_events", "parcels", "simulate"}
        if unknown:
            raise ControlError(f"unknown tracking setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            parcels = copy.deepcopy(self.parcels)
            simulate = self.simulate
            if "simulate" in changes:
                if not isinstance(changes["simulate"], bool):
                    raise ControlError("simulate is true or false")
                simulate = changes["simulate"]
            if "parcels" in changes:
                entries = changes["parcels"]
                if not isinstance(entries, Mapping):
                    raise ControlError("parcels takes an object keyed 'carrier:number'")
                for key, events in entries.items():
                    carrier, _, number = str(key).partition(":")
                    _check_parcel(carrier, number)
                    if events is None:
                        parcels.pop(key, None)
                        continue
                    if not isinstance(events, list):
                        raise ControlError(f"parcel {key} takes a list of events or null")
                    parcels[key] = {"scripted": True, "events": [_event(e) for e in events]}
            for entry in changes.get("add_events") or []:
                if not isinstance(entry, Mapping):
                    raise ControlError("add_events takes a list of objects")
                carrier, number = str(entry.get("carrier", "")), str(entry.get("number", ""))
                _check_parcel(carrier, number)
                event = _event({k: v for k, v in entry.items() if k not in ("carrier", "number")})
                parcel = parcels.setdefault(
                    parcel_key(carrier, number), {"scripted": True, "events": []}
                )
                parcel["scripted"] = True
                parcel["events"].append(event)
            self.parcels, self.simulate = parcels, simulate

    def answer(self, carrier: str, numbers: list[str]) -> list[dict[str, Any]]:
        """Each parcel's events (advancing unscripted parcels one step when simulating)."""
        now = datetime.now(tz=SEOUL)
        answers = []
        with self._lock:
            for number in numbers:
                key = parcel_key(carrier, number)
                parcel = self.parcels.get(key)
                if self.simulate and (parcel is None or not parcel["scripted"]):
                    parcel = self.parcels.setdefault(key, {"scripted": False, "events": []})
                    route = ROUTES[carrier]
                    step = len(parcel["events"])
                    if step < len(route):
                        code, location, description = route[step]
                        parcel["events"].append(
                            {
                                "id": f"sim-{carrier}-{number}-{step + 1}",
                                "code": code,
                                "occurred_at": now.isoformat(),
                                "location": location,
                                "description": description,
                            }
                        )
                events = copy.deepcopy(parcel["events"]) if parcel else []
                answers.append({"number": number, "events": events})
        return answers


def _check_parcel(carrier: str, number: str) -> None:
    if carrier not in CARRIERS:
        raise ControlError(f"unknown carrier {carrier!r} (one of {', '.join(CARRIERS)})")
    if not number:
        raise ControlError("a parcel needs a number")


def _event(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, Mapping):
        raise ControlError("an event is an object")
    missing = {"id", "code", "occurred_at"} - set(fields)
    unknown = set(fields) - EVENT_FIELDS
    if missing or unknown:
        raise ControlError(
            f"an event takes id, code, occurred_at (location, description): {fields}"
        )
    if fields["code"] not in CODES:
        raise ControlError(f"unknown event code {fields['code']!r}")
    try:
        datetime.fromisoformat(str(fields["occurred_at"]))
    except ValueError as exc:
        raise ControlError("occurred_at must be an ISO 8601 timestamp") from exc
    return {
        "id": str(fields["id"]),
        "code": fields["code"],
        "occurred_at": str(fields["occurred_at"]),
        "location": str(fields.get("location", "")),
        "description": str(fields.get("description", "")),
    }


@blueprint.get("/parcels")
def parcels():
    """The events of each parcel asked for, in the carrier's order."""
    carrier = request.args.get("carrier", "")
    if carrier not in CARRIERS:
        return jsonify(error="unknown_carrier", message=f"unknown carrier {carrier!r}"), 400
    numbers = [n.strip() for n in request.args.get("numbers", "").split(",") if n.strip()]
    if len(numbers) > MAX_NUMBERS:
        message = f"at most {MAX_NUMBERS} numbers per request"
        return jsonify(error="too_many_numbers", message=message), 400
    state: TrackingState = runtime_for("tracking").state  # type: ignore[assignment]
    return jsonify(carrier=carrier, parcels=state.answer(carrier, numbers))


SERVICE = SandboxService(name="tracking", blueprint=blueprint, initial_state=TrackingState)
