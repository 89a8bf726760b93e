"""Reservations under real concurrency on PostgreSQL: shoppers in separate threads (each
with its own connection) start together at a barrier. Nothing is promised twice, the
fixed lock order means no deadlock, and reserve and release stay idempotent."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.db.models import F, Sum
from django.utils import timezone

from fulfillment.models import Reservation, Stock
from fulfillment.services import (
    ReservationRequest,
    ReservationResult,
    stock_reservations_release,
    stock_reserve,
)
from tests.concurrency import run_concurrently
from tests.factories import OrderFactory, ProductFactory, StockFactory, WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def reserve_call(order_id: int, lines: list[tuple[int, int]]) -> Callable[[], ReservationResult]:
    expires_at = timezone.now() + datetime.timedelta(minutes=30)
    requests = [ReservationRequest(product_id=p, quantity=q) for p, q in lines]
    return lambda: stock_reserve(order_id=order_id, lines=requests, expires_at=expires_at)


def assert_stock_consistent() -> None:
    """No row holds more than it has, and ``reserved`` is exactly its active reservations."""
    assert not Stock.objects.filter(on_hand__lt=F("allocated") + F("reserved")).exists()
    for stock in Stock.objects.all():
        active = stock.reservations.filter(status=Reservation.Status.ACTIVE).aggregate(
            units=Sum("quantity")
        )["units"]
        assert stock.reserved == (active or 0), stock


@pytest.fixture
def warehouses():
    return (
        WarehouseFactory(code="icn", priority=10),
        WarehouseFactory(code="pyt", priority=20),
    )


def scarce_product(warehouses, *, first: int, second: int):
    """A product with ``first`` free units in Incheon and ``second`` in Pyeongtaek."""
    product = ProductFactory()
    icn, pyt = warehouses
    StockFactory(product=product, warehouse=icn, on_hand=first + 1, allocated=1)
    StockFactory(product=product, warehouse=pyt, on_hand=second)
    return product


def test_twenty_shoppers_for_five_units_get_five_domestic_and_fifteen_cross_border(warehouses):
    product = scarce_product(warehouses, first=3, second=2)
    orders = OrderFactory.create_batch(20)

    results = run_concurrently([reserve_call(order.pk, [(product.pk, 1)]) for order in orders])

    splits = [result.as_dict()[product.pk] for result in results]
    assert splits.count((1, 0)) == 5
    assert splits.count((0, 1)) == 15
    assert dict(
        Stock.objects.filter(product=product).values_list("warehouse__code", "reserved")
    ) == {"icn": 3, "pyt": 2}
    assert Reservation.objects.count() == 5
    assert Reservation.objects.values("order").distinct().count() == 5
    assert_stock_consistent()


def test_orders_naming_two_products_in_opposite_orders_never_deadlock(warehouses):
    tea = scarce_product(warehouses, first=4, second=3)  # 7 units
    mug = scarce_product(warehouses, first=2, second=3)  # 5 units
    orders = OrderFactory.create_batch(20)
    calls = [
        reserve_call(order.pk, [(tea.pk, 1), (mug.pk, 1)] if i % 2 else [(mug.pk, 1), (tea.pk, 1)])
        for i, order in enumerate(orders)
    ]

    results = run_concurrently(calls)

    tea_domestic = sum(result.as_dict()[tea.pk][0] for result in results)
    mug_domestic = sum(result.as_dict()[mug.pk][0] for result in results)
    assert (tea_domestic, mug_domestic) == (7, 5)
    assert sum(result.cross_border_units for result in results) == 40 - 12
    assert not Stock.objects.filter(on_hand__gt=F("allocated") + F("reserved")).exists()
    assert_stock_consistent()


def test_the_same_order_reserved_from_many_threads_holds_its_units_once(warehouses):
    product = scarce_product(warehouses, first=3, second=2)
    order = OrderFactory()

    results = run_concurrently([reserve_call(order.pk, [(product.pk, 4)]) for _ in range(8)])

    assert {tuple(result.as_dict().items()) for result in results} == {((product.pk, (4, 0)),)}
    assert Reservation.objects.filter(order=order).aggregate(units=Sum("quantity")) == {"units": 4}
    assert_stock_consistent()


def test_releases_racing_reservations_keep_the_counts_exact(warehouses):
    product = scarce_product(warehouses, first=3, second=3)
    holders = OrderFactory.create_batch(6)
    for order in holders:
        reserve_call(order.pk, [(product.pk, 1)])()
    shoppers = OrderFactory.create_batch(6)
    calls = [lambda order_id=o.pk: stock_reservations_release(order_id=order_id) for o in holders]
    calls += [lambda order_id=o.pk: stock_reservations_release(order_id=order_id) for o in holders]
    calls += [reserve_call(order.pk, [(product.pk, 1)]) for order in shoppers]

    outcomes = run_concurrently(calls)

    released = outcomes[:12]
    assert sum(released) == 6  # each holder's unit came back exactly once
    assert sorted(released) == [0] * 6 + [1] * 6
    assert not Reservation.objects.filter(
        order__in=holders, status=Reservation.Status.ACTIVE
    ).exists()
    assert_stock_consistent()
