"""A burst of 500 signed Stripe webhook deliveries (250 distinct payment_intent.succeeded
events, each delivered twice, shuffled, 16 at a time) to the storefront's real endpoint
served over HTTP on PostgreSQL: every effect happens exactly once — each order paid once,
one status change each, one order.paid outbox event each, one recorded Stripe event each —
and every delivery is answered 200 (a duplicate is acknowledged, not refused)."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from orders.models import Order, OrderStatusChange, Payment, StripeEvent
from storefront.models import OutboxEvent
from tests.factories import OrderFactory
from tests.orders.test_stripe_webhook import sign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/payments/stripe/webhook/"
SECRET = "whsec_burst_secret"
DISTINCT = 250
COPIES = 2
CLIENTS = 16


def test_500_webhook_deliveries_with_duplicates_apply_each_effect_once(live_server, settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    payments = []
    for n in range(DISTINCT):
        order = OrderFactory(status=Order.Status.PENDING_PAYMENT, items_krw=42000)
        payments.append(
            Payment.objects.create(
                order=order,
                idempotency_key=f"pi-{order.number}",
                payment_intent_id=f"pi_burst_{n:04d}",
                client_secret=f"pi_burst_{n:04d}_secret",
                status=Payment.Status.REQUIRES_PAYMENT,
                amount_krw=order.total_krw,
            )
        )
    bodies = [
        json.dumps(
            {
                "id": f"evt_burst_{n:04d}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": int(time.time()),
                "data": {
                    "object": {
                        "id": p.payment_intent_id,
                        "object": "payment_intent",
                        "amount": p.amount_krw,
                        "amount_received": p.amount_krw,
                        "currency": "krw",
                        "status": "succeeded",
                    }
                },
            }
        ).encode()
        for n, p in enumerate(payments)
    ]
    deliveries = bodies * COPIES
    random.Random(7).shuffle(deliveries)

    with httpx.Client(base_url=live_server.url, timeout=30) as client:

        def post(body: bytes) -> int:
            return client.post(
                URL,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": sign(body, SECRET),
                },
            ).status_code

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            statuses = list(pool.map(post, deliveries))

    assert len(statuses) == DISTINCT * COPIES
    assert set(statuses) == {200}
    assert StripeEvent.objects.count() == DISTINCT
    assert not StripeEvent.objects.filter(processed_at__isnull=True).exists()
    order_ids = [p.order_id for p in payments]
    assert Order.objects.filter(pk__in=order_ids, status=Order.Status.PAID).count() == DISTINCT
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == DISTINCT
    changes = OrderStatusChange.objects.filter(order_id__in=order_ids, to_status="paid")
    assert changes.count() == DISTINCT
    assert changes.values("order_id").distinct().count() == DISTINCT
    paid_events = OutboxEvent.objects.filter(topic="order.paid")
    assert paid_events.count() == DISTINCT
    assert set(paid_events.values_list("aggregate_id", flat=True)) == {str(i) for i in order_ids}
