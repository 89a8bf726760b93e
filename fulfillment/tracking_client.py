"""Client for parcel tracking (domestic carriers and the international leg; the sandbox
locally, sandbox/tracking.py).

One call, ``parcels_track``: the events a carrier reports for a batch of tracking numbers.
Real HTTP to ``GET <TRACKING_URL>/parcels?carrier=..&numbers=a,b,c`` with a timeout
(``TRACKING_TIMEOUT_SECONDS``) and ``TRACKING_RETRIES`` retries, after a growing pause, of
timeouts, connection errors, 5xx/429 answers and malformed answers. When the carrier
still gives no usable answer: ``TrackingUnavailable`` (the poller backs off and asks
again later; nothing stored is touched).

Answer::

    {"carrier": "cj", "parcels": [{"number": "A", "events": [
        {"id": "e1", "code": "picked_up", "occurred_at": "2026-01-05T09:00:00+09:00",
         "location": "...", "description": "..."}]}]}

Events come back in the carrier's order, duplicates included: deduplicating and ordering
is the caller's job (``fulfillment.services.shipments.tracking_events_record``). An event
with a code we do not know is skipped (and logged), not a failure of the whole answer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from storefront.errors import ApplicationError

from .models import TrackingEvent

logger = logging.getLogger(__name__)

RETRY_BACKOFF_SECONDS = 0.2  # 0.2 s, 0.4 s, ...: a blip; the poller's own backoff does the rest
DOMESTIC_CARRIERS = ("cj", "hanjin", "lotte", "epost")
INTERNATIONAL_CARRIER = "gs-intl"
CARRIERS = (*DOMESTIC_CARRIERS, INTERNATIONAL_CARRIER)
KNOWN_CODES = frozenset(TrackingEvent.Code.values)
# How shoppers and staff see each carrier.
CARRIER_NAMES = {
    "cj": _("CJ Logistics"),
    "hanjin": _("Hanjin Express"),
    "lotte": _("Lotte Global Logistics"),
    "epost": _("Korea Post"),
    "gs-intl": _("Global Store international shipping"),
}


class TrackingUnavailable(ApplicationError):
    """The tracking service gave no usable answer after the retries."""

    code = "tracking_unavailable"


class _Malformed(Exception):
    """A 200 answer that is not a tracking answer."""


@dataclass(frozen=True)
class CarrierEvent:
    """One step of a parcel as the carrier reported it."""

    external_id: str
    code: str
    occurred_at: datetime
    location: str = ""
    description: str = ""


@dataclass(frozen=True)
class ParcelTracking:
    """A parcel's events, in the carrier's order (possibly repeated)."""

    carrier: str
    tracking_number: str
    events: tuple[CarrierEvent, ...]


def parcels_track(*, carrier: str, tracking_numbers: Sequence[str]) -> dict[str, ParcelTracking]:
    """The events of each parcel (at most ``TRACKING_BATCH_SIZE`` numbers), keyed by tracking
    number; a number the carrier does not know has no events. Raises ``ValueError`` for a
    batch too large and ``TrackingUnavailable`` when every attempt fails."""
    numbers = list(dict.fromkeys(n for n in tracking_numbers if n))
    if not numbers:
        return {}
    if len(numbers) > settings.TRACKING_BATCH_SIZE:
        raise ValueError(f"at most {settings.TRACKING_BATCH_SIZE} numbers per request")
    url = f"{settings.TRACKING_URL.rstrip('/')}/parcels"
    params = {"carrier": carrier, "numbers": ",".join(numbers)}
    attempts = max(0, settings.TRACKING_RETRIES) + 1
    failure = ""
    with httpx.Client(timeout=settings.TRACKING_TIMEOUT_SECONDS) as http:
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 2))
            try:
                response = http.get(url, params=params, headers={"Accept": "application/json"})
            except httpx.TimeoutException:
                failure = "timed out"
            except httpx.TransportError as exc:
                failure = f"unreachable ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    try:
                        return _parse(response.content, carrier=carrier, numbers=numbers)
                    except _Malformed as exc:
                        failure = f"malformed answer ({exc})"
                elif response.is_server_error or response.status_code == 429:
                    failure = f"answered {response.status_code}"
                else:
                    logger.error(
                        "tracking %s refused the request: %s %s",
                        carrier,
                        response.status_code,
                        response.text[:200],
                    )
                    raise TrackingUnavailable(
                        f"The tracking service refused the request ({response.status_code})."
                    )
            logger.warning("tracking %s: attempt %d/%d %s", carrier, attempt, attempts, failure)
    logger.error("tracking %s unavailable after %d attempts: %s", carrier, attempts, failure)
    raise TrackingUnavailable(f"The tracking service is unavailable: {failure}.")


def _parse(body: bytes, *, carrier: str, numbers: list[str]) -> dict[str, ParcelTracking]:
    try:
        answer: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Malformed("not JSON") from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("parcels"), list):
        raise _Malformed("no 'parcels' list")
    found: dict[str, list[CarrierEvent]] = {}
    for parcel in answer["parcels"]:
        if not isinstance(parcel, dict) or not isinstance(parcel.get("events"), list):
            raise _Malformed("a parcel without an 'events' list")
        number = str(parcel.get("number", ""))
        found.setdefault(number, []).extend(_events(parcel["events"], carrier=carrier))
    return {
        number: ParcelTracking(
            carrier=carrier, tracking_number=number, events=tuple(found.get(number, ()))
        )
        for number in numbers
    }


def _events(raw_events: list[Any], *, carrier: str) -> list[CarrierEvent]:
    events = []
    for raw in raw_events:
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("occurred_at"):
            raise _Malformed("an event without id or occurred_at")
        try:
            occurred_at = datetime.fromisoformat(str(raw["occurred_at"]))
        except ValueError as exc:
            raise _Malformed("occurred_at is not a timestamp") from exc
        if occurred_at.tzinfo is None:
            raise _Malformed("occurred_at has no time zone")
        if raw.get("code") not in KNOWN_CODES:
            logger.warning(
                "tracking %s: skipped event with unknown code %r", carrier, raw.get("code")
            )
            continue
        events.append(
            CarrierEvent(
                external_id=str(raw["id"])[:80],
                code=raw["code"],
                occurred_at=occurred_at,
                location=str(raw.get("location") or "")[:120],
                description=str(raw.get("description") or "")[:300],
            )
        )
    return events
