"""FX rate source stand-in: the USD→KRW selling rate and the weekly customs rate.

``GET /fx/rates?base=USD`` answers both rates with their publication times. The customs
rate is published on Friday and valid Sunday–Saturday (DOMAIN.md, Prices). Defaults are
deterministic (selling 1391.50, customs 1388.20); publication times are derived from the
day the state was created or reset, so restarting the sandbox on the same day serves the
same publications. Tests change everything through ``/_controls/fx/state``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request

from .state import ControlError, SandboxService, runtime_for

SEOUL = ZoneInfo("Asia/Seoul")
DEFAULT_SELLING_RATE = "1391.50"
DEFAULT_CUSTOMS_RATE = "1388.20"
SELLING_PUBLISHED_AT = time(9, 0)  # banks post the day's first rate at 09:00 KST
CUSTOMS_PUBLISHED_AT = time(10, 0)
SOURCE_NAME = "sandbox"
RATE_FIELDS = {
    "selling": {"rate", "published_at"},
    "customs": {"rate", "published_at", "valid_from", "valid_to"},
}

blueprint = Blueprint("fx", __name__, url_prefix="/fx")


def customs_validity(published_on: date) -> tuple[date, date]:
    """The Sunday–Saturday week a customs rate published on ``published_on`` applies to:
    the week that starts on the next Sunday."""
    days_to_sunday = (6 - published_on.weekday()) % 7 or 7
    valid_from = published_on + timedelta(days=days_to_sunday)
    return valid_from, valid_from + timedelta(days=6)


def default_rates(now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """The rates in effect at ``now``: today's 09:00 selling rate (yesterday's before
    09:00) and the customs rate published on the Friday before this week's Sunday."""
    now = (now or datetime.now(tz=SEOUL)).astimezone(SEOUL)
    selling_day = now.date() if now.time() >= SELLING_PUBLISHED_AT else now.date() - timedelta(1)
    this_sunday = now.date() - timedelta(days=(now.weekday() + 1) % 7)
    customs_friday = this_sunday - timedelta(days=2)
    valid_from, valid_to = customs_validity(customs_friday)
    return {
        "selling": {
            "rate": DEFAULT_SELLING_RATE,
            "published_at": datetime.combine(selling_day, SELLING_PUBLISHED_AT, SEOUL).isoformat(),
        },
        "customs": {
            "rate": DEFAULT_CUSTOMS_RATE,
            "published_at": datetime.combine(
                customs_friday, CUSTOMS_PUBLISHED_AT, SEOUL
            ).isoformat(),
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat(),
        },
    }


class FxState:
    """The rates the sandbox serves. Values are served exactly as set (a rate may be a
    string or a number, even an implausible one) so tests can check the client's
    validation; ``null`` for a kind leaves it out of the answer."""

    def __init__(self) -> None:
        self.source = SOURCE_NAME
        self.rates: dict[str, dict[str, Any] | None] = default_rates()

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "rates": copy.deepcopy(self.rates)}

    def update(self, changes: Mapping[str, Any]) -> None:
        """Partial update, all or nothing: ``{"selling": {"rate": "1400.00"}}``,
        ``{"customs": {"published_at": "2025-06-06T10:00:00+09:00"}}`` (its validity week
        follows unless given), ``{"customs": null}``, ``{"source": "..."}``."""
        unknown = set(changes) - {"source", *RATE_FIELDS}
        if unknown:
            raise ControlError(f"unknown fx setting(s): {', '.join(sorted(unknown))}")
        rates = copy.deepcopy(self.rates)
        for kind, allowed in RATE_FIELDS.items():
            if kind not in changes:
                continue
            change = changes[kind]
            if change is None:
                rates[kind] = None
                continue
            if not isinstance(change, Mapping) or set(change) - allowed:
                raise ControlError(f"{kind} takes an object with keys {sorted(allowed)}")
            current = rates[kind] or default_rates()[kind]
            current.update(change)
            if kind == "customs" and "published_at" in change:
                _derive_validity(current, explicit=change)
            rates[kind] = current
        if "source" in changes:
            if not isinstance(changes["source"], str):
                raise ControlError("source must be a string")
            self.source = changes["source"]
        self.rates = rates


def _derive_validity(customs: dict[str, Any], *, explicit: Mapping[str, Any]) -> None:
    """Follow a new customs publication with its Sunday–Saturday week, unless the test set
    the week itself or the publication time is deliberately not a valid timestamp."""
    try:
        published = datetime.fromisoformat(str(customs["published_at"]))
    except ValueError:
        return
    valid_from, valid_to = customs_validity(published.date())
    if "valid_from" not in explicit:
        customs["valid_from"] = valid_from.isoformat()
    if "valid_to" not in explicit:
        customs["valid_to"] = valid_to.isoformat()


@blueprint.get("/rates")
def rates():
    """USD→KRW selling and customs rates, each with its publication time."""
    base = request.args.get("base", "USD").upper()
    quote = request.args.get("quote", "KRW").upper()
    if (base, quote) != ("USD", "KRW"):
        return jsonify(error="unsupported_pair", message="only USD→KRW is published"), 400
    state = runtime_for("fx").state_json()
    answer = {kind: rate for kind, rate in state["rates"].items() if rate is not None}
    return jsonify(base=base, quote=quote, source=state["source"], rates=answer)


SERVICE = SandboxService(name="fx", blueprint=blueprint, initial_state=FxState)
