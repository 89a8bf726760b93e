"""Client for Amazon sourcing (the sandbox's ``sourcing`` service locally).

Two calls: ``purchase_order_create`` places an order with an ``Idempotency-Key`` (a retry
with the same key gets the first answer back and never buys twice) and
``purchase_order_get`` reads its status. Real HTTP to ``SOURCING_URL`` with a per-attempt
timeout (``SOURCING_TIMEOUT_SECONDS``) and ``SOURCING_RETRIES`` retries, after a growing
pause with jitter, of timeouts, connection errors, 5xx/429 answers and malformed answers.
When the supplier still gives no usable answer: ``SourcingUnavailable`` (transient: try
again later with the same key). A 4xx is ``SourcingRefused``: retrying cannot help.

Request and answers::

    POST /orders  Idempotency-Key: po-12-…
    {"reference": "PO-12", "destination": "customer",
     "lines": [{"asin": "B0…", "quantity": 2, "max_unit_price_usd": "20.98",
                "expected_unit_price_usd": "19.99", "reference": "31", "group": "T00000001"}]}
    → 201 {"id": "AMZ-000001", "status": "accepted",
           "lines": [{"asin", "quantity", "reference", "group",
                      "status": "accepted|price_changed|out_of_stock", "unit_price_usd"}]}
    GET /orders/AMZ-000001
    → {..., "status": "accepted|shipped|delivered_to_warehouse|cancelled",
       "carrier": "gs-intl", "tracking_number": "…",
       "parcels": [{"group", "carrier", "tracking_number"}], "delivery_id": "DLV-…"}
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.conf import settings

from storefront.errors import ApplicationError

logger = logging.getLogger(__name__)

RETRY_BACKOFF_SECONDS = 0.2  # 0.2 s, 0.4 s, … plus jitter: a blip, the task retries outages


class SourcingUnavailable(ApplicationError):
    """The supplier gave no usable answer after the retries; nothing is known to have
    happened (a create may have been applied: retry with the same idempotency key)."""

    code = "sourcing_unavailable"


class SourcingRefused(ApplicationError):
    """The supplier refused the request (4xx): retrying the same request cannot help."""

    code = "sourcing_refused"


class _Malformed(Exception):
    """A 2xx answer that is not an order."""


@dataclass(frozen=True)
class SupplierLineRequest:
    """One line to buy: at most ``max_unit_price_usd`` a unit (``expected_unit_price_usd``
    is the price we last saw). ``reference`` comes back on
    the answered line (our purchase order line id); ``group`` decides parcels (one
    tracking number per group, e.g. per customer order)."""

    asin: str
    quantity: int
    max_unit_price_usd: Decimal
    reference: str
    group: str = ""
    expected_unit_price_usd: Decimal | None = None


@dataclass(frozen=True)
class SupplierLine:
    asin: str
    quantity: int
    reference: str
    status: str  # accepted | price_changed | out_of_stock
    unit_price_usd: Decimal | None


@dataclass(frozen=True)
class SupplierParcel:
    group: str
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class SupplierOrder:
    id: str
    status: str  # accepted | shipped | delivered_to_warehouse | cancelled
    lines: tuple[SupplierLine, ...]
    carrier: str | None = None
    tracking_number: str | None = None
    parcels: tuple[SupplierParcel, ...] = ()
    delivery_id: str | None = None


def purchase_order_create(
    *,
    reference: str,
    lines: Sequence[SupplierLineRequest],
    idempotency_key: str,
    destination: str = "customer",
) -> SupplierOrder:
    """Place an order with the supplier; ``destination`` is ``customer`` (cross-border) or
    ``warehouse`` (replenishment). Safe to repeat with the same ``idempotency_key``: the
    supplier answers the first answer again. Raises ``SourcingUnavailable`` or
    ``SourcingRefused``."""
    payload = {
        "reference": reference,
        "destination": destination,
        "lines": [
            {
                "asin": line.asin,
                "quantity": line.quantity,
                "max_unit_price_usd": str(line.max_unit_price_usd),
                "expected_unit_price_usd": (
                    None
                    if line.expected_unit_price_usd is None
                    else str(line.expected_unit_price_usd)
                ),
                "reference": line.reference,
                "group": line.group,
            }
            for line in lines
        ],
    }
    return _call(
        "POST",
        "/orders",
        payload=payload,
        headers={"Idempotency-Key": idempotency_key},
        what=f"order {reference}",
    )


def purchase_order_get(*, external_id: str) -> SupplierOrder:
    """The supplier's order ``external_id`` as it is now. Raises ``SourcingUnavailable``
    or ``SourcingRefused`` (e.g. an unknown id)."""
    return _call("GET", f"/orders/{external_id}", what=f"order {external_id}")


def _call(
    method: str,
    path: str,
    *,
    what: str,
    payload: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> SupplierOrder:
    url = f"{settings.SOURCING_URL.rstrip('/')}{path}"
    attempts = max(0, settings.SOURCING_RETRIES) + 1
    failure = ""
    with httpx.Client(timeout=settings.SOURCING_TIMEOUT_SECONDS) as http:
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                pause = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 2)
                time.sleep(pause + random.uniform(0, pause))  # noqa: S311 - jitter, not crypto
            try:
                response = http.request(
                    method,
                    url,
                    json=payload,
                    headers={"Accept": "application/json", **(headers or {})},
                )
            except httpx.TimeoutException:
                failure = "timed out"
            except httpx.TransportError as exc:
                failure = f"unreachable ({type(exc).__name__})"
            else:
                if response.is_success:
                    try:
                        return _parse(response.content)
                    except _Malformed as exc:
                        failure = f"malformed answer ({exc})"
                elif response.is_server_error or response.status_code in (409, 429):
                    failure = f"answered {response.status_code}"
                else:
                    logger.error(
                        "sourcing %s %s refused: %s %s",
                        method,
                        what,
                        response.status_code,
                        response.text[:300],
                    )
                    raise SourcingRefused(
                        f"Amazon sourcing refused {what} ({response.status_code}).",
                    )
            logger.warning(
                "sourcing %s %s: attempt %d/%d %s", method, what, attempt, attempts, failure
            )
    logger.error(
        "sourcing %s %s unavailable after %d attempts: %s", method, what, attempts, failure
    )
    raise SourcingUnavailable(f"Amazon sourcing did not answer about {what}: {failure}.")


def _parse(body: bytes) -> SupplierOrder:
    try:
        answer: Any = json.loads(body)
        lines = tuple(
            SupplierLine(
                asin=str(line["asin"]),
                quantity=int(line["quantity"]),
                reference=str(line.get("reference", "")),
                status=str(line["status"]),
                unit_price_usd=(
                    None
                    if line.get("unit_price_usd") is None
                    else Decimal(str(line["unit_price_usd"]))
                ),
            )
            for line in answer["lines"]
        )
        parcels = tuple(
            SupplierParcel(
                group=str(parcel.get("group", "")),
                carrier=str(parcel["carrier"]),
                tracking_number=str(parcel["tracking_number"]),
            )
            for parcel in answer.get("parcels") or ()
        )
        return SupplierOrder(
            id=str(answer["id"]),
            status=str(answer["status"]),
            lines=lines,
            carrier=answer.get("carrier"),
            tracking_number=answer.get("tracking_number"),
            parcels=parcels,
            delivery_id=answer.get("delivery_id"),
        )
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, InvalidOperation) as exc:
        raise _Malformed(type(exc).__name__) from exc
