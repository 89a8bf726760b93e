"""Allocation under real concurrency on PostgreSQL: paid orders in separate threads (each
with its own connection) start together at a barrier. Nothing is promised twice, the
fixed lock order means no deadlock, and the day's purchase order collects the rest."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F, Sum

from fulfillment.models import Allocation, PurchaseOrder, PurchaseOrderLine, Stock
from fulfillment.services import AllocationResult, order_allocate, order_allocations_release
from orders.models import Order
from tests.concurrency import run_concurrently
from tests.factories import OrderFactory, ProductFactory, StockFactory, WarehouseFactory
from tests.fixtures.core import unavailable
from tests.orders.factories import OrderLineFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 200
ROUNDS = 3
# One thread (and connection) per order, all released together: PostgreSQL must accept
# 200 connections besides the test's own (.ci/run raises max_connections to 300).
CLIENTS = ORDERS
SPARE_CONNECTIONS = 20


def require_connections(count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        limit = int(cursor.fetchone()[0])
    if limit < count + SPARE_CONNECTIONS:
        unavailable(
            f"needs PostgreSQL max_connections ≥ {count + SPARE_CONNECTIONS} for {count} "
            f"concurrent clients (it is {limit}; .ci/run raises it)"
        )


def assert_stock_consistent() -> None:
    """No row holds more than it has, and ``allocated`` is exactly its live allocations."""
    assert not Stock.objects.filter(on_hand__lt=F("allocated") + F("reserved")).exists()
    for stock in Stock.objects.all():
        live = stock.allocations.filter(status=Allocation.Status.ALLOCATED).aggregate(
            units=Sum("quantity")
        )["units"]
        assert stock.allocated == (live or 0), stock


def paid_one_unit_orders(product, count: int) -> list[Order]:
    orders = OrderFactory.create_batch(count, status=Order.Status.PAID)
    for order in orders:
        OrderLineFactory(order=order, product=product, quantity=1)
    return orders


def allocate_all(orders: list[Order]) -> list[AllocationResult]:
    return [order_allocate(order_id=order.pk) for order in orders]


def test_two_hundred_paid_orders_for_ten_units_get_ten_domestic_over_repeated_runs():
    require_connections(CLIENTS)
    icn = WarehouseFactory(code="icn", priority=10)
    pyt = WarehouseFactory(code="pyt", priority=20)
    for round_number in range(ROUNDS):
        product = ProductFactory()
        StockFactory(warehouse=icn, product=product, on_hand=6)
        StockFactory(warehouse=pyt, product=product, on_hand=4)
        orders = paid_one_unit_orders(product, ORDERS)

        batches = [orders[i::CLIENTS] for i in range(CLIENTS)]
        outcomes = run_concurrently([lambda batch=batch: allocate_all(batch) for batch in batches])
        results = [result for batch in outcomes for result in batch]

        splits = [(r.domestic_units, r.cross_border_units) for r in results]
        assert splits.count((1, 0)) == 10, round_number
        assert splits.count((0, 1)) == ORDERS - 10, round_number
        mine = Allocation.objects.filter(product=product)
        assert mine.count() == 10
        assert dict(
            mine.values("stock__warehouse__code")
            .annotate(units=Sum("quantity"))
            .values_list("stock__warehouse__code", "units")
        ) == {"icn": 6, "pyt": 4}
        assert PurchaseOrderLine.objects.filter(product=product).count() == ORDERS - 10
        assert PurchaseOrder.objects.count() == 1  # the day's one open cross-border order
        assert_stock_consistent()


def test_allocations_racing_their_own_redelivery_and_release_stay_exact():
    icn = WarehouseFactory(code="icn", priority=10)
    product = ProductFactory()
    StockFactory(warehouse=icn, product=product, on_hand=5)
    orders = paid_one_unit_orders(product, 10)
    calls = [lambda order_id=o.pk: order_allocate(order_id=order_id) for o in orders]
    calls += [lambda order_id=o.pk: order_allocate(order_id=order_id) for o in orders]
    calls += [lambda order_id=o.pk: order_allocations_release(order_id=order_id) for o in orders]

    run_concurrently(calls)

    # Each order allocated at most once (one line per order, once domestic or once abroad).
    for order in orders:
        live = Allocation.objects.filter(order=order).count()
        bought = PurchaseOrderLine.objects.filter(order_line__order=order).count()
        assert live + bought <= 1, order
    live = Allocation.objects.filter(product=product, status=Allocation.Status.ALLOCATED)
    assert (live.aggregate(units=Sum("quantity"))["units"] or 0) <= 5
    assert_stock_consistent()
