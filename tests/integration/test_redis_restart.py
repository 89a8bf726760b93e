"""Redis (the Celery broker) stopped and started again while orders are being paid: nothing
committed is lost. Payments arriving while the broker is down still commit the payment, the
order's status and its order.paid outbox event in PostgreSQL (the relay cannot be enqueued;
that is logged, never raised into the webhook); the restarted Redis has lost every queued
message (no persistence); the outbox sweep relays what was waiting, and every order is paid
and allocated exactly once on a real worker.

The broker is a redis-server of the test's own (tests/integration/conftest.py); the shared
Redis is never stopped.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from fulfillment.models import Allocation, Stock
from orders.models import Order, OrderStatusChange, Payment
from orders.services.payments import stripe_event_receive
from storefront.models import OutboxDelivery, OutboxEvent
from storefront.tasks import outbox_sweep
from tests.factories import OrderFactory, StockFactory
from tests.fixtures.worker import wait_until
from tests.orders.factories import OrderLineFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = 2  # paid while Redis is up
DURING = 5  # paid while Redis is down
ALLOCATE = "fulfillment.subscribers.order_paid_allocate"


def pending_order(n: int):
    stock = StockFactory(on_hand=5)
    order = OrderFactory(items_krw=30000)
    OrderLineFactory(order=order, product=stock.product, quantity=1, unit_price_krw=30000)
    payment = Payment.objects.create(
        order=order,
        idempotency_key=f"pi-{order.number}",
        payment_intent_id=f"pi_redis_{n:03d}",
        client_secret=f"pi_redis_{n:03d}_secret",
        status=Payment.Status.REQUIRES_PAYMENT,
        amount_krw=order.total_krw,
    )
    return order, payment, stock


def webhook_succeeded(payment: Payment, n: int) -> None:
    """What the verified webhook view does with payment_intent.succeeded."""
    stripe_event_receive(
        event={
            "id": f"evt_redis_{n:03d}",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": payment.payment_intent_id,
                    "object": "payment_intent",
                    "amount": payment.amount_krw,
                    "amount_received": payment.amount_krw,
                    "status": "succeeded",
                }
            },
        }
    )


def test_redis_restart_while_paying_loses_nothing_committed(own_broker_workers, own_redis):
    rows = [pending_order(n) for n in range(BEFORE + DURING)]
    worker = own_broker_workers.start(CELERY_VISIBILITY_TIMEOUT_SECONDS="4")

    for n, (_, payment, _) in enumerate(rows[:BEFORE]):
        webhook_succeeded(payment, n)
    wait_until(
        lambda: not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists(),
        timeout=30,
        what="the orders paid before the outage to be relayed",
    )

    own_redis.stop()
    for n, (_, payment, _) in enumerate(rows[BEFORE:], start=BEFORE):
        webhook_succeeded(payment, n)  # must not raise although the broker is gone
    during_ids = [str(order.pk) for order, _, _ in rows[BEFORE:]]
    waiting = OutboxEvent.objects.filter(topic="order.paid", aggregate_id__in=during_ids)
    # Committed: paid, and the event waits in the outbox, undispatched.
    assert Order.objects.filter(pk__in=during_ids, status="paid").count() == DURING
    assert waiting.filter(dispatched_at__isnull=True).count() == DURING
    assert not Allocation.objects.filter(order_id__in=during_ids).exists()

    own_redis.start()  # empty: whatever was queued is gone

    def relayed():
        """the sweep relayed every event that waited during the outage"""
        try:
            outbox_sweep.delay()  # beat's job
        except Exception:  # the producer may still be reconnecting
            return False
        return not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()

    # OUTBOX_SWEEP_AFTER_SECONDS is 60 s by default: make the waiting events due now, as
    # beat would find them a minute later.
    OutboxEvent.objects.filter(dispatched_at__isnull=True).update(next_attempt_at=timezone.now())
    wait_until(relayed, timeout=90, interval=1.0)

    for order, payment, stock in rows:
        payment.refresh_from_db()
        assert payment.status == Payment.Status.SUCCEEDED
        assert Order.objects.get(pk=order.pk).status == "paid"
        assert OrderStatusChange.objects.filter(order=order, to_status="paid").count() == 1
        assert (
            OutboxEvent.objects.filter(topic="order.paid", aggregate_id=str(order.pk)).count() == 1
        )
        (allocation,) = Allocation.objects.filter(order=order)
        assert allocation.quantity == 1
        assert Stock.objects.get(pk=stock.pk).allocated == 1
    assert OutboxDelivery.objects.filter(subscriber=ALLOCATE, status="succeeded").count() == len(
        rows
    )
    assert "storefront.tasks.outbox_relay" in worker.output()
