"""Read side of stock: what is available domestically now, how an order would split
between domestic and cross-border, and the delivery promise.

Available means on hand − allocated − reserved: units held for orders awaiting payment are
not offered to anyone else."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Stock

DOMESTIC_DAYS = (1, 2)  # business days
CROSS_BORDER_DAYS = (6, 10)  # calendar days


@dataclass(frozen=True)
class DeliveryPromise:
    """When an item arrives: from a domestic warehouse in 1–2 business days, otherwise
    bought from Amazon and shipped across the border in 6–10 days."""

    domestic: bool
    label: str
    earliest: datetime.date
    latest: datetime.date


class QuantityLine(Protocol):
    """Anything with a product id and a quantity: a cart line, a ``ReservationRequest``."""

    @property
    def product_id(self) -> int: ...

    @property
    def quantity(self) -> int: ...


def _free_units() -> CombinedExpression:
    """Units of a stock row nobody holds: on hand − allocated − reserved."""
    return F("on_hand") - F("allocated") - F("reserved")


def _domestic_stock() -> QuerySet[Stock]:
    return Stock.objects.filter(
        warehouse__is_domestic=True,
        warehouse__is_active=True,
        on_hand__gt=F("allocated") + F("reserved"),
    )


def domestic_available_subquery(product_ref: str = "pk") -> Coalesce:
    """An expression for annotating product querysets with the units available
    domestically now, reservations deducted (one correlated subquery, no extra round
    trip)."""
    total = (
        _domestic_stock()
        .filter(product_id=OuterRef(product_ref))
        .values("product_id")
        .annotate(units=Sum(_free_units()))
        .values("units")
    )
    return Coalesce(Subquery(total), 0)


def domestic_stock_exists(product_ref: str = "pk") -> Exists:
    """A filter expression: the product can ship from Korea now ("fast delivery"), at
    least one unit not allocated or reserved."""
    return Exists(_domestic_stock().filter(product_id=OuterRef(product_ref)))


def domestic_available_for_products(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Units available domestically now per product (reservations deducted), for many
    products in one query. Products without domestic stock are absent (read as 0)."""
    rows = (
        _domestic_stock()
        .filter(product_id__in=list(product_ids))
        .values("product_id")
        .annotate(units=Sum(_free_units()))
    )
    return {row["product_id"]: row["units"] for row in rows}


def stock_split_preview(*, lines: Iterable[QuantityLine]) -> dict[int, tuple[int, int]]:
    """Product id → (domestic units, cross-border units) the lines would get if reserved
    now, for the quote before placing an order. One query, no locks: ``stock_reserve``
    decides at placement, and may give fewer domestic units if someone else was faster.
    A product listed twice is added up."""
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    if not wanted:
        return {}
    available = domestic_available_for_products(product_ids=wanted)
    split = {}
    for product_id, quantity in wanted.items():
        domestic = min(available.get(product_id, 0), quantity)
        split[product_id] = (domestic, quantity - domestic)
    return split


def _add_business_days(day: datetime.date, days: int) -> datetime.date:
    while days > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def delivery_promise(
    *, domestic_units: int, now: datetime.datetime | None = None
) -> DeliveryPromise:
    """The promise for an item given the units available domestically, dated in Seoul time
    (weekends skipped for domestic delivery; public holidays are not yet known here)."""
    today = timezone.localdate(now or timezone.now())
    if domestic_units > 0:
        return DeliveryPromise(
            domestic=True,
            label=_("Ships from Korea: arrives in 1–2 business days"),
            earliest=_add_business_days(today, DOMESTIC_DAYS[0]),
            latest=_add_business_days(today, DOMESTIC_DAYS[1]),
        )
    return DeliveryPromise(
        domestic=False,
        label=_("Ships from the US: arrives in 6–10 days"),
        earliest=today + datetime.timedelta(days=CROSS_BORDER_DAYS[0]),
        latest=today + datetime.timedelta(days=CROSS_BORDER_DAYS[1]),
    )
