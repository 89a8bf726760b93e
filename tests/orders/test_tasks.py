"""Orders beat tasks against localstripe: a paid PaymentIntent whose webhook never came is
found, unpaid orders are cancelled after their window with stock released, and refunds left
pending by an outage are resubmitted once."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from fulfillment.models import Stock
from orders.models import Cart, CartLine, Order, Payment, Refund
from orders.services import payments
from orders.services.checkout import ShippingAddress, order_place
from orders.tasks import orders_expire_unpaid, payments_reconcile_pending, refunds_retry_pending
from tests.factories import ExchangeRateFactory, StockFactory

pytestmark = pytest.mark.django_db

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)


@pytest.fixture
def place(django_user_model, stripe_local):
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    stock = StockFactory(on_hand=10, product__source_price_usd=Decimal("25.00"))
    counter = iter(range(100))

    def _place() -> Order:
        n = next(counter)
        shopper = django_user_model.objects.create_user(f"t{n}@example.com", email=f"t{n}@x.com")
        cart = Cart.objects.create(customer=shopper)
        CartLine.objects.create(cart=cart, product=stock.product, quantity=1)
        order = order_place(
            customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
        )
        payments.payment_intent_ensure(order_id=order.pk)
        return order

    return _place


def age(payment: Payment, minutes: int) -> None:
    Payment.objects.filter(pk=payment.pk).update(
        updated_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )


def test_reconcile_finds_a_payment_whose_webhook_never_came(place, stripe_confirm_card):
    paid_order, unpaid_order = place(), place()
    paid_payment = Payment.objects.get(order=paid_order)
    stripe_confirm_card(
        paid_payment.payment_intent_id, paid_payment.client_secret, "4242424242424242"
    )
    for payment in Payment.objects.all():
        age(payment, 10)
    assert payments_reconcile_pending.apply().get() == 1
    assert Order.objects.get(pk=paid_order.pk).status == "paid"
    assert Order.objects.get(pk=unpaid_order.pk).status == "pending_payment"


def test_reconcile_leaves_fresh_payments_alone(place, stripe_confirm_card):
    order = place()
    payment = Payment.objects.get(order=order)
    stripe_confirm_card(payment.payment_intent_id, payment.client_secret, "4242424242424242")
    assert payments_reconcile_pending.apply().get() == 0  # the webhook may still come
    assert Order.objects.get(pk=order.pk).status == "pending_payment"


def test_unpaid_orders_are_cancelled_after_their_window(place):
    overdue, fresh = place(), place()
    Order.objects.filter(pk=overdue.pk).update(
        payment_due_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert orders_expire_unpaid.apply().get() == 1
    assert Order.objects.get(pk=overdue.pk).status == "cancelled"
    assert Order.objects.get(pk=fresh.pk).status == "pending_payment"
    assert Stock.objects.get().reserved == 1  # only the fresh order's unit is still held
    assert Payment.objects.get(order=overdue).status == "cancelled"


def test_pending_refunds_are_resubmitted_once(place, stripe_confirm_card, stripe_local, settings):
    order = place()
    payment = Payment.objects.get(order=order)
    stripe_confirm_card(payment.payment_intent_id, payment.client_secret, "4242424242424242")
    payments.payment_reconcile(payment_id=payment.pk)
    settings.STRIPE_MAX_RETRIES = 0
    stripe_local.faults(fail_next=1, fail_status=503)
    refund = payments.refund_request(order_id=order.pk, amount_krw=5000, reason="r", actor_id=None)
    assert refund.status == "pending"
    Refund.objects.filter(pk=refund.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    assert refunds_retry_pending.apply().get() == 1
    assert refunds_retry_pending.apply().get() == 0
    assert Payment.objects.get(pk=payment.pk).refunded_krw == 5000
    assert len(stripe_local.objects("refund")) == 1
