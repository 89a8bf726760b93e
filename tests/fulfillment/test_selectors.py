"""The read side of stock: units available in Korea now (for many products in one query,
as an annotation and as a filter) and the delivery promise shoppers see."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.utils import timezone, translation

from catalog.models import Product
from fulfillment.selectors import (
    delivery_promise,
    domestic_available_for_products,
    domestic_available_subquery,
    domestic_stock_exists,
)
from tests.factories import ProductFactory, StockFactory, WarehouseFactory

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")


@pytest.fixture
def places(db):
    """Two active domestic warehouses (different priorities), a closed domestic one and a
    US one."""
    return {
        "icn": WarehouseFactory(code="icn", priority=10, is_domestic=True),
        "pus": WarehouseFactory(code="pus", priority=20, is_domestic=True),
        "closed": WarehouseFactory(code="closed", priority=5, is_domestic=True, is_active=False),
        "us": WarehouseFactory(code="us", priority=1, is_domestic=False),
    }


@pytest.fixture
def products(places):
    """Products in every stock situation the selectors must tell apart."""
    in_two = ProductFactory()
    StockFactory(product=in_two, warehouse=places["icn"], on_hand=5, allocated=2)  # 3
    StockFactory(product=in_two, warehouse=places["pus"], on_hand=4, allocated=0)  # 4
    StockFactory(product=in_two, warehouse=places["closed"], on_hand=50, allocated=0)
    StockFactory(product=in_two, warehouse=places["us"], on_hand=50, allocated=0)

    partly_allocated = ProductFactory()
    StockFactory(product=partly_allocated, warehouse=places["icn"], on_hand=3, allocated=3)
    StockFactory(product=partly_allocated, warehouse=places["pus"], on_hand=2, allocated=1)

    fully_allocated = ProductFactory()
    StockFactory(product=fully_allocated, warehouse=places["icn"], on_hand=3, allocated=3)

    only_closed = ProductFactory()
    StockFactory(product=only_closed, warehouse=places["closed"], on_hand=9, allocated=0)

    only_us = ProductFactory()
    StockFactory(product=only_us, warehouse=places["us"], on_hand=9, allocated=0)

    no_stock = ProductFactory()
    return {
        "in_two": in_two,
        "partly_allocated": partly_allocated,
        "fully_allocated": fully_allocated,
        "only_closed": only_closed,
        "only_us": only_us,
        "no_stock": no_stock,
    }


EXPECTED_UNITS = {
    "in_two": 7,  # 3 + 4 from the two active domestic warehouses only
    "partly_allocated": 1,
    "fully_allocated": 0,
    "only_closed": 0,
    "only_us": 0,
    "no_stock": 0,
}


# --- Units available in Korea -------------------------------------------------------------


def test_domestic_available_for_products_in_one_query(products, django_assert_num_queries):
    ids = (product.pk for product in products.values())  # any iterable of ids

    with django_assert_num_queries(1):
        units = domestic_available_for_products(product_ids=ids)

    assert units == {products["in_two"].pk: 7, products["partly_allocated"].pk: 1}


def test_domestic_available_for_products_only_answers_for_the_asked_products(products):
    units = domestic_available_for_products(product_ids=[products["partly_allocated"].pk])
    assert units == {products["partly_allocated"].pk: 1}
    assert domestic_available_for_products(product_ids=[]) == {}


def test_domestic_available_subquery_annotates_every_product_in_one_query(
    products, django_assert_num_queries
):
    with django_assert_num_queries(1):
        annotated = dict(
            Product.objects.annotate(units=domestic_available_subquery()).values_list("pk", "units")
        )

    assert annotated == {products[name].pk: units for name, units in EXPECTED_UNITS.items()}


def test_domestic_stock_exists_keeps_products_that_ship_from_korea_now(products):
    shipping = set(Product.objects.filter(domestic_stock_exists()).values_list("pk", flat=True))
    not_shipping = set(
        Product.objects.filter(~domestic_stock_exists()).values_list("pk", flat=True)
    )

    assert shipping == {products["in_two"].pk, products["partly_allocated"].pk}
    assert not_shipping == {
        products[name].pk for name, units in EXPECTED_UNITS.items() if units == 0
    }


def test_selectors_follow_a_warehouse_closing(products, places):
    places["icn"].is_active = False
    places["icn"].save(update_fields=["is_active"])

    units = domestic_available_for_products(product_ids=[p.pk for p in products.values()])

    assert units == {products["in_two"].pk: 4, products["partly_allocated"].pk: 1}


# --- Delivery promise ---------------------------------------------------------------------


def seoul(year: int, month: int, day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("now", "earliest", "latest"),
    [
        (seoul(2025, 1, 1), datetime.date(2025, 1, 2), datetime.date(2025, 1, 3)),  # Wed → Thu–Fri
        (seoul(2025, 1, 2), datetime.date(2025, 1, 3), datetime.date(2025, 1, 6)),  # Thu → Fri–Mon
        (seoul(2025, 1, 3), datetime.date(2025, 1, 6), datetime.date(2025, 1, 7)),  # Fri → Mon–Tue
        (seoul(2025, 1, 4), datetime.date(2025, 1, 6), datetime.date(2025, 1, 7)),  # Sat → Mon–Tue
        (seoul(2025, 1, 5), datetime.date(2025, 1, 6), datetime.date(2025, 1, 7)),  # Sun → Mon–Tue
    ],
    ids=["wednesday", "thursday", "friday", "saturday", "sunday"],
)
def test_domestic_promise_is_one_to_two_business_days(now, earliest, latest):
    promise = delivery_promise(domestic_units=1, now=now)

    assert promise.domestic is True
    assert (promise.earliest, promise.latest) == (earliest, latest)


def test_domestic_promise_counts_days_in_seoul_time():
    # Thursday 20:00 UTC is already Friday 05:00 in Seoul: Monday–Tuesday, not Friday–Monday.
    now = datetime.datetime(2025, 1, 2, 20, 0, tzinfo=datetime.UTC)

    promise = delivery_promise(domestic_units=3, now=now)

    assert (promise.earliest, promise.latest) == (
        datetime.date(2025, 1, 6),
        datetime.date(2025, 1, 7),
    )


def test_cross_border_promise_is_six_to_ten_calendar_days():
    promise = delivery_promise(domestic_units=0, now=seoul(2025, 1, 3))  # a Friday

    assert promise.domestic is False
    assert (promise.earliest, promise.latest) == (
        datetime.date(2025, 1, 9),
        datetime.date(2025, 1, 13),
    )


def test_promise_labels_say_where_it_ships_from_and_how_long_it_takes():
    with translation.override("en"):
        domestic = str(delivery_promise(domestic_units=2).label)
        cross_border = str(delivery_promise(domestic_units=0).label)

    assert domestic == "Ships from Korea: arrives in 1–2 business days"
    assert cross_border == "Ships from the US: arrives in 6–10 days"


def test_promise_without_now_starts_from_today_in_seoul():
    today = timezone.localdate()
    promise = delivery_promise(domestic_units=0)
    assert promise.earliest == today + datetime.timedelta(days=6)
    assert promise.latest == today + datetime.timedelta(days=10)
