"""Read side of stock: what is available domestically now, and the delivery promise."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Sum
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


def _domestic_stock() -> QuerySet[Stock]:
    return Stock.objects.filter(
        warehouse__is_domestic=True, warehouse__is_active=True, on_hand__gt=F("allocated")
    )


def domestic_available_subquery(product_ref: str = "pk") -> Coalesce:
    """An expression for annotating product querysets with the units available
    domestically now (one correlated subquery, no extra round trip)."""
    total = (
        _domestic_stock()
        .filter(product_id=OuterRef(product_ref))
        .values("product_id")
        .annotate(units=Sum(F("on_hand") - F("allocated")))
        .values("units")
    )
    return Coalesce(Subquery(total), 0)


def domestic_stock_exists(product_ref: str = "pk") -> Exists:
    """A filter expression: the product can ship from Korea now ("fast delivery")."""
    return Exists(_domestic_stock().filter(product_id=OuterRef(product_ref)))


def domestic_available_for_products(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Units available domestically now per product, for many products in one query.
    Products without domestic stock are absent (read as 0)."""
    rows = (
        _domestic_stock()
        .filter(product_id__in=list(product_ids))
        .values("product_id")
        .annotate(units=Sum(F("on_hand") - F("allocated")))
    )
    return {row["product_id"]: row["units"] for row in rows}


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
