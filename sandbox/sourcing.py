"""Amazon sourcing stand-in: purchase orders to Amazon, their prices, stock and shipping.

``POST /sourcing/orders`` with ``{"reference", "destination"?, "lines": [{"asin",
"quantity", "max_unit_price_usd", "expected_unit_price_usd"?, "reference"?, "group"?}]}``
places an order. An ASIN costs the expected price the buyer saw (else the maximum) unless a
price override says otherwise. Each line is answered ``accepted`` (bought at
``unit_price_usd``, at most the maximum),
``price_changed`` (not bought: Amazon's price is above the maximum; ``unit_price_usd`` is
that price) or ``out_of_stock`` (not bought). An ``Idempotency-Key`` header makes a retry
safe: the same key answers the first answer again (header ``Idempotent-Replayed: true``)
and never places a second order.

``GET /sourcing/orders/<id>`` answers the order. Status: ``accepted`` → ``shipped``
(``carrier`` "gs-intl", one tracking number per line ``group``, e.g. per customer order, in
``parcels``) → ``delivered_to_warehouse`` (only for ``destination: "warehouse"``, with a
``delivery_id``). An order with no line bought is ``cancelled``. In ``simulate`` mode (the
default, so ``make run`` moves on its own) every status poll moves the order one step.

State (``/_controls/sourcing/state``): ``prices`` (ASIN → current USD price, ``null`` to
forget), ``out_of_stock`` (ASINs), ``simulate``, ``late_answers_next`` (the next N order
creations are applied, then answered only after ``late_answer_seconds``: the client times
out after the order exists), and ``orders`` (``{"<id>": {"status": "shipped"}}`` moves an
order by hand).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, jsonify, request

from .state import ControlError, SandboxService, runtime_for

CARRIER = "gs-intl"
MAX_LATE_ANSWER_SECONDS = 10.0
STEPS = {
    "customer": ("accepted", "shipped"),
    "warehouse": ("accepted", "shipped", "delivered_to_warehouse"),
}
STATUSES = {"accepted", "shipped", "delivered_to_warehouse", "cancelled"}

blueprint = Blueprint("sourcing", __name__, url_prefix="/sourcing")


class SourcingState:
    """Orders by id, idempotency keys → first answer, price overrides, out-of-stock ASINs.

    Endpoints change it under ``lock`` (the controls change it under the runtime's lock,
    and then take this one too)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, str] = {}
        self.out_of_stock: set[str] = set()
        self.simulate = True
        self.late_answers_next = 0
        self.late_answer_seconds = 2.0
        self.sequence = 0

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": copy.deepcopy(self.orders),
                "idempotency_keys": sorted(self.answers),
                "prices": dict(self.prices),
                "out_of_stock": sorted(self.out_of_stock),
                "simulate": self.simulate,
                "late_answers_next": self.late_answers_next,
                "late_answer_seconds": self.late_answer_seconds,
            }

    def update(self, changes: Mapping[str, Any]) -> None:
        """All or nothing: ``{"prices": {"B0...": "24.50", "B1...": null}, "out_of_stock":
        ["B0..."], "simulate": false, "late_answers_next": 1, "late_answer_seconds": 2,
        "orders": {"AMZ-000001": {"status": "shipped"}}}``."""
        known = {
            "prices",
            "out_of_stock",
            "simulate",
            "late_answers_next",
            "late_answer_seconds",
            "orders",
        }
        unknown = set(changes) - known
        if unknown:
            raise ControlError(f"unknown sourcing setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            prices = dict(self.prices)
            for asin, price in (changes.get("prices") or {}).items():
                if price is None:
                    prices.pop(asin, None)
                else:
                    prices[asin] = str(_usd(price, what=f"price of {asin}"))
            out_of_stock = self.out_of_stock
            if "out_of_stock" in changes:
                value = changes["out_of_stock"]
                if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                    raise ControlError("out_of_stock takes a list of ASINs")
                out_of_stock = set(value)
            simulate = changes.get("simulate", self.simulate)
            if not isinstance(simulate, bool):
                raise ControlError("simulate is true or false")
            late_next = changes.get("late_answers_next", self.late_answers_next)
            if isinstance(late_next, bool) or not isinstance(late_next, int) or late_next < 0:
                raise ControlError("late_answers_next is a whole number ≥ 0")
            late_seconds = changes.get("late_answer_seconds", self.late_answer_seconds)
            if isinstance(late_seconds, bool) or not isinstance(late_seconds, int | float):
                raise ControlError("late_answer_seconds is a number")
            if not 0 < late_seconds <= MAX_LATE_ANSWER_SECONDS:
                raise ControlError(f"late_answer_seconds must be in (0, {MAX_LATE_ANSWER_SECONDS}]")
            orders = copy.deepcopy(self.orders)
            for order_id, change in (changes.get("orders") or {}).items():
                if order_id not in orders:
                    raise ControlError(f"no sourcing order {order_id!r}")
                status = (change or {}).get("status")
                if status not in STATUSES:
                    raise ControlError(f"status must be one of {sorted(STATUSES)}")
                _move(orders[order_id], status)
            self.prices, self.out_of_stock, self.simulate = prices, out_of_stock, simulate
            self.late_answers_next, self.late_answer_seconds = late_next, float(late_seconds)
            self.orders = orders


def _usd(value: Any, *, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ControlError(f"{what} must be a USD amount") from exc
    if not amount.is_finite() or amount <= 0:
        raise ControlError(f"{what} must be a positive USD amount")
    return amount.quantize(Decimal("0.01"))


def _move(order: dict[str, Any], status: str) -> None:
    """Set ``status`` and what comes with it (parcels when shipped, a delivery id)."""
    order["status"] = status
    if status in {"shipped", "delivered_to_warehouse"} and not order["parcels"]:
        groups = sorted({line["group"] for line in order["lines"] if line["status"] == "accepted"})
        number = int(order["id"].rsplit("-", 1)[1])
        order["carrier"] = CARRIER
        order["parcels"] = [
            {"group": group, "carrier": CARRIER, "tracking_number": f"GSI{number:06d}{i:03d}"}
            for i, group in enumerate(groups, start=1)
        ]
        order["tracking_number"] = order["parcels"][0]["tracking_number"]
    if status == "delivered_to_warehouse":
        order["delivery_id"] = f"DLV-{order['id']}"


def _bad_request(message: str):
    return jsonify(error="bad_request", message=message), 400


def _parse_lines(body: Any) -> list[dict[str, Any]] | str:
    """The requested lines, or what is wrong with the request."""
    if not isinstance(body, dict) or not isinstance(body.get("reference"), str):
        return "send a JSON object with a string reference and lines"
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        return "lines must be a non-empty list"
    parsed = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict) or not isinstance(line.get("asin"), str):
            return f"line {index}: an object with an asin"
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            return f"line {index}: quantity must be a whole number ≥ 1"
        try:
            max_price = _usd(line.get("max_unit_price_usd"), what="max_unit_price_usd")
            seen = line.get("expected_unit_price_usd")
            expected = max_price if seen is None else _usd(seen, what="expected_unit_price_usd")
        except ControlError as exc:
            return f"line {index}: {exc}"
        parsed.append(
            {
                "asin": line["asin"],
                "quantity": quantity,
                "max_unit_price_usd": max_price,
                "expected_unit_price_usd": expected,
                "reference": str(line.get("reference", index)),
                "group": str(line.get("group", "")),
            }
        )
    return parsed


@blueprint.post("/orders")
def order_create():
    """Place an order (or answer the first answer again for a known Idempotency-Key)."""
    body = request.get_json(silent=True)
    lines = _parse_lines(body)
    if isinstance(lines, str):
        return _bad_request(lines)
    destination = body.get("destination", "customer")
    if destination not in STEPS:
        return _bad_request("destination is customer or warehouse")
    key = request.headers.get("Idempotency-Key", "")
    state: SourcingState = runtime_for("sourcing").state
    with state.lock:
        if key and key in state.answers:
            response = jsonify(state.answers[key])
            response.headers["Idempotent-Replayed"] = "true"
            return response, 201
        state.sequence += 1
        order_id = f"AMZ-{state.sequence:06d}"
        answered = []
        for line in lines:
            price = Decimal(state.prices.get(line["asin"], str(line["expected_unit_price_usd"])))
            if line["asin"] in state.out_of_stock:
                status = "out_of_stock"
            elif price > line["max_unit_price_usd"]:
                status = "price_changed"
            else:
                status = "accepted"
            answered.append(
                {
                    "asin": line["asin"],
                    "quantity": line["quantity"],
                    "reference": line["reference"],
                    "group": line["group"],
                    "status": status,
                    "unit_price_usd": None if status == "out_of_stock" else str(price),
                }
            )
        bought = any(line["status"] == "accepted" for line in answered)
        order = {
            "id": order_id,
            "reference": body["reference"],
            "destination": destination,
            "status": "accepted" if bought else "cancelled",
            "lines": answered,
            "carrier": None,
            "tracking_number": None,
            "parcels": [],
            "delivery_id": None,
        }
        state.orders[order_id] = order
        answer = copy.deepcopy(order)
        if key:
            state.answers[key] = answer
        late = state.late_answers_next > 0
        if late:
            state.late_answers_next -= 1
        late_seconds = state.late_answer_seconds
    if late:
        # The order exists; the answer comes after the client has given up on it.
        time.sleep(late_seconds)
    return jsonify(answer), 201


@blueprint.get("/orders/<order_id>")
def order_get(order_id: str):
    """The order now; in simulate mode, one step further than at the last poll."""
    state: SourcingState = runtime_for("sourcing").state
    with state.lock:
        order = state.orders.get(order_id)
        if order is None:
            return jsonify(error="not_found", message=f"no order {order_id}"), 404
        steps = STEPS[order["destination"]]
        if state.simulate and order["status"] in steps[:-1]:
            _move(order, steps[steps.index(order["status"]) + 1])
        return jsonify(copy.deepcopy(order))


SERVICE = SandboxService(name="sourcing", blueprint=blueprint, initial_state=SourcingState)
