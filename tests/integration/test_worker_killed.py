"""A worker killed with SIGKILL in the middle of an allocation: its transaction is rolled
back, the relay it never finished is run again by the next worker, and the order is
allocated exactly once.

Two mechanisms bring the work back, and either is enough: the unacknowledged task returns
to the queue after the Redis visibility timeout (acks_late), and the outbox sweep (what
beat runs every minute) relays every event not yet dispatched. The test runs the sweep as
beat would, so it does not wait for kombu's restore period."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from fulfillment.models import Allocation, PurchaseOrderLine, Stock
from orders.lifecycle import order_transition
from orders.models import Order
from storefront.models import OutboxDelivery, OutboxEvent
from storefront.tasks import outbox_sweep
from tests.factories import OrderFactory, StockFactory
from tests.fixtures.worker import wait_until
from tests.orders.factories import OrderLineFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VISIBILITY_SECONDS = "4"


class StockLock:
    """Hold ``SELECT … FOR UPDATE`` on a stock row from another connection until released,
    so an allocation that reaches that row waits there, mid-transaction."""

    def __init__(self, stock_id: int) -> None:
        self.stock_id = stock_id
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                Stock.objects.select_for_update().get(pk=self.stock_id)
                self.locked.set()
                self.release.wait(timeout=120)
        finally:
            connections.close_all()

    def __enter__(self) -> StockLock:
        self.thread.start()
        assert self.locked.wait(timeout=10)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(timeout=10)


def waiting_on_a_lock() -> bool:
    """a worker's allocation is waiting for the stock row lock"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE %s",
            ["%fulfillment_stock%FOR%UPDATE%"],
        )
        return cursor.fetchone()[0] > 0


def test_worker_killed_mid_allocation_allocates_exactly_once(celery_workers):
    stock = StockFactory(on_hand=3)
    order = OrderFactory(items_krw=60000)
    line = OrderLineFactory(order=order, product=stock.product, quantity=2, unit_price_krw=30000)
    first = celery_workers.start(CELERY_VISIBILITY_TIMEOUT_SECONDS=VISIBILITY_SECONDS)

    with StockLock(stock.pk):
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            order_transition(order=locked, to_status="paid", actor_type="payment_provider")
        # The worker took the relay, started allocating and now waits on the stock row.
        wait_until(waiting_on_a_lock, timeout=30)
        celery_workers.kill(first)
        assert first.process.returncode is not None

    # Nothing of the killed allocation survived.
    assert not Allocation.objects.filter(order=order).exists()
    assert Stock.objects.get(pk=stock.pk).allocated == 0

    second = celery_workers.start(
        CELERY_VISIBILITY_TIMEOUT_SECONDS=VISIBILITY_SECONDS, OUTBOX_SWEEP_AFTER_SECONDS="0"
    )
    event = OutboxEvent.objects.get(topic="order.paid", aggregate_id=str(order.pk))

    def dispatched():
        """the interrupted relay was run again and finished"""
        outbox_sweep.delay()  # beat's job
        event.refresh_from_db()
        return event.dispatched_at is not None

    wait_until(dispatched, timeout=60, interval=0.5)

    allocation = Allocation.objects.get(order=order)
    assert (allocation.order_line_id, allocation.quantity) == (line.pk, 2)
    assert Stock.objects.get(pk=stock.pk).allocated == 2
    assert not PurchaseOrderLine.objects.filter(order_line=line).exists()
    delivery = OutboxDelivery.objects.get(
        event=event, subscriber="fulfillment.subscribers.order_paid_allocate"
    )
    assert delivery.succeeded_at is not None
    assert "storefront.tasks.outbox_relay" in second.output()
