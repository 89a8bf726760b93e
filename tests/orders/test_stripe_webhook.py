"""Stripe's webhook (/payments/stripe/webhook/): signatures are verified before anything is
written, each event id is applied once, and the final state does not depend on how often or
in which order the events arrive."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time

import pytest
from django.urls import reverse

from orders.models import Order, OrderStatusChange, Payment, StripeEvent
from storefront.models import OutboxEvent
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_id: str, event_type: str, intent: dict) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": intent},
        }
    ).encode()


@pytest.fixture
def pending_payment(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    order = OrderFactory(status=Order.Status.PENDING_PAYMENT, items_krw=42000)
    return Payment.objects.create(
        order=order,
        idempotency_key=f"pi-{order.number}",
        payment_intent_id="pi_test_webhook",
        client_secret="pi_test_webhook_secret_x",
        status=Payment.Status.REQUIRES_PAYMENT,
        amount_krw=order.total_krw,
    )


def intent(payment: Payment, status: str, **extra) -> dict:
    return {
        "id": payment.payment_intent_id,
        "object": "payment_intent",
        "amount": payment.amount_krw,
        "amount_received": payment.amount_krw if status == "succeeded" else 0,
        "currency": "krw",
        "status": status,
        **extra,
    }


def deliver(client, payload: bytes, secret: str = "whsec_test_secret", **kwargs):
    return client.post(
        URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload, secret, **kwargs),
    )


def final_state(payment: Payment) -> dict:
    payment.refresh_from_db()
    order = payment.order
    order.refresh_from_db()
    return {
        "order": order.status,
        "payment": payment.status,
        "captured": payment.captured_krw,
        "paid_changes": OrderStatusChange.objects.filter(order=order, to_status="paid").count(),
        "paid_events": OutboxEvent.objects.filter(
            topic="order.paid", aggregate_id=str(order.pk)
        ).count(),
        "events_recorded": StripeEvent.objects.count(),
    }


def test_url_is_named():
    assert reverse("orders:stripe-webhook") == URL


def test_succeeded_marks_the_order_paid(client, pending_payment):
    response = deliver(
        client, event("evt_1", "payment_intent.succeeded", intent(pending_payment, "succeeded"))
    )
    assert response.status_code == 200
    state = final_state(pending_payment)
    assert state["order"] == "paid"
    assert state["payment"] == "succeeded"
    assert state["captured"] == pending_payment.amount_krw
    history = OrderStatusChange.objects.get(order=pending_payment.order, to_status="paid")
    assert history.actor_type == OrderStatusChange.ActorType.PAYMENT_PROVIDER


def test_failed_payment_leaves_the_order_payable_with_the_reason(client, pending_payment):
    declined = intent(
        pending_payment,
        "requires_payment_method",
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )
    assert (
        deliver(client, event("evt_f", "payment_intent.payment_failed", declined)).status_code
        == 200
    )
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.FAILED
    assert pending_payment.last_error_message == "Your card was declined."
    assert Order.objects.get(pk=pending_payment.order_id).status == "pending_payment"


def test_replayed_three_times_in_shuffled_order_equals_one_in_order_delivery(
    client, pending_payment
):
    declined = intent(
        pending_payment,
        "requires_payment_method",
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )
    failed = event("evt_failed", "payment_intent.payment_failed", declined)
    succeeded = event("evt_ok", "payment_intent.succeeded", intent(pending_payment, "succeeded"))

    # The reference: one in-order delivery, on a twin payment.
    deliver(client, failed)
    deliver(client, succeeded)
    expected = final_state(pending_payment)
    assert expected["order"] == "paid"
    assert expected["paid_events"] == 1

    for seed in range(5):
        order = OrderFactory(status=Order.Status.PENDING_PAYMENT, items_krw=42000)
        twin = Payment.objects.create(
            order=order,
            idempotency_key=f"pi-{order.number}",
            payment_intent_id=f"pi_twin_{seed}",
            client_secret="x",
            status=Payment.Status.REQUIRES_PAYMENT,
            amount_krw=order.total_krw,
        )
        twin_declined = {**declined, "id": twin.payment_intent_id}
        twin_ok = intent(twin, "succeeded")
        deliveries = [
            event(f"evt_failed_{seed}", "payment_intent.payment_failed", twin_declined),
            event(f"evt_ok_{seed}", "payment_intent.succeeded", twin_ok),
        ] * 3
        random.Random(seed).shuffle(deliveries)
        for payload in deliveries:
            assert deliver(client, payload).status_code == 200
        state = final_state(twin)
        assert {k: v for k, v in state.items() if k != "events_recorded"} == {
            k: v for k, v in expected.items() if k != "events_recorded"
        }
        assert StripeEvent.objects.filter(payment_intent_id=twin.payment_intent_id).count() == 2


@pytest.mark.parametrize(
    "how", ["wrong secret", "stale timestamp", "missing header", "tampered body"]
)
def test_bad_or_stale_signature_is_refused_and_nothing_is_written(client, pending_payment, how):
    payload = event("evt_bad", "payment_intent.succeeded", intent(pending_payment, "succeeded"))
    if how == "wrong secret":
        response = deliver(client, payload, secret="whsec_someone_else")
    elif how == "stale timestamp":
        response = deliver(client, payload, timestamp=int(time.time()) - 3600)
    elif how == "missing header":
        response = client.post(URL, data=payload, content_type="application/json")
    else:
        header = sign(payload, "whsec_test_secret")
        response = client.post(
            URL,
            data=payload.replace(b"succeeded", b"succeeded "),
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0
    pending_payment.refresh_from_db()
    assert pending_payment.status == Payment.Status.REQUIRES_PAYMENT
    assert Order.objects.get(pk=pending_payment.order_id).status == "pending_payment"
    assert not OutboxEvent.objects.filter(topic="order.paid").exists()


def test_late_failure_after_success_does_not_unpay(client, pending_payment):
    deliver(
        client, event("evt_ok", "payment_intent.succeeded", intent(pending_payment, "succeeded"))
    )
    declined = intent(
        pending_payment, "requires_payment_method", last_payment_error={"message": "x"}
    )
    deliver(client, event("evt_late", "payment_intent.payment_failed", declined))
    state = final_state(pending_payment)
    assert state["order"] == "paid"
    assert state["payment"] == "succeeded"


def test_event_for_an_unknown_intent_is_recorded_and_changes_nothing(client, pending_payment):
    other = {**intent(pending_payment, "succeeded"), "id": "pi_not_ours"}
    assert deliver(client, event("evt_x", "payment_intent.succeeded", other)).status_code == 200
    assert StripeEvent.objects.filter(event_id="evt_x").exists()
    assert Order.objects.get(pk=pending_payment.order_id).status == "pending_payment"
