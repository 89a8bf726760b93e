"""A real Celery worker (subprocess) against Redis and PostgreSQL: a paid order is
allocated, shipped and delivered with no step done in this process except what staff do
(packing and marking the domestic parcel shipped). Everything else — relaying the outbox,
allocation, sending the Amazon order, creating the international shipment, polling the
carriers — runs in the worker, against the sandbox's simulated carriers and supplier."""

from __future__ import annotations

import pytest
from django.db import transaction

from fulfillment.models import Allocation, PurchaseOrderLine, Shipment, Stock
from fulfillment.services.shipments import shipment_create, shipment_mark_shipped
from fulfillment.tasks import (
    purchase_orders_refresh_task,
    purchase_orders_submit_task,
    tracking_poll_task,
)
from orders.lifecycle import order_transition
from orders.models import Order
from storefront.models import OutboxEvent
from tests.factories import OrderFactory, StockFactory
from tests.fixtures.worker import wait_until
from tests.orders.factories import OrderLineFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_paid_to_allocated_to_shipped_to_delivered_on_a_real_worker(celery_worker_process):
    stock = StockFactory(on_hand=1)
    order = OrderFactory(items_krw=60000)
    line = OrderLineFactory(order=order, product=stock.product, quantity=2, unit_price_krw=30000)

    # Paid: order.paid goes into the outbox; the worker relays it and allocates.
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        order_transition(order=locked, to_status="paid", actor_type="payment_provider")

    def allocated():
        """the worker relayed order.paid and the order was allocated"""
        return OutboxEvent.objects.filter(
            topic="order.paid", aggregate_id=str(order.pk), dispatched_at__isnull=False
        ).exists()

    wait_until(allocated, timeout=45)
    allocation = Allocation.objects.get(order_line=line)
    assert allocation.quantity == 1
    assert Stock.objects.get(pk=stock.pk).allocated == 1
    assert PurchaseOrderLine.objects.get(order_line=line).quantity == 1

    # Staff pack the domestic unit and mark it shipped.
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(line.pk, 1)],
        carrier="cj",
        tracking_number="CJ-INTEGRATION-1",
    )
    shipment_mark_shipped(shipment_id=shipment.pk)
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (0, 0)

    def order_status(status):
        def check():
            return Order.objects.get(pk=order.pk).status == status

        check.__doc__ = f"the order to be {status}"
        return check

    wait_until(order_status("shipped"), timeout=30)

    # The worker sends the Amazon order, follows it to the international shipment and
    # polls both parcels (the sandbox moves each one step per poll) until delivered.
    def delivered():
        """every shipment delivered and the order delivered"""
        purchase_orders_submit_task.delay()
        purchase_orders_refresh_task.delay()
        tracking_poll_task.delay()
        return Order.objects.get(pk=order.pk).status == "delivered"

    wait_until(delivered, timeout=90, interval=1.0)
    shipments = Shipment.objects.filter(order=order)
    assert {s.kind for s in shipments} == {"domestic", "international"}
    assert all(s.status == "delivered" for s in shipments)
    assert "storefront.tasks.outbox_relay" in celery_worker_process.output()
    assert "fulfillment.tasks.tracking_poll" in celery_worker_process.output()
