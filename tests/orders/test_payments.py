"""Payments end to end against localstripe over HTTP (no mocking of the stripe library):
PaymentIntent creation with the stored idempotency key, card success and decline,
reconciliation without a webhook, expiry, cancellation with refund, partial refunds that
can never exceed what was captured, and a refund retried after a lost answer."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfillment.models import Reservation, Stock
from orders import stripe_client
from orders.models import Cart, CartLine, Order, OrderStatusChange, Payment, Refund
from orders.services import payments
from orders.services.checkout import ShippingAddress, order_place
from storefront.models import OutboxEvent
from tests.factories import ExchangeRateFactory, StockFactory

pytestmark = pytest.mark.django_db

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)


@pytest.fixture
def placed(django_user_model, stripe_local):
    """A domestic order for 2 units (₩77,000), placed and awaiting payment."""
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    shopper = django_user_model.objects.create_user("s@example.com", email="s@example.com")
    stock = StockFactory(on_hand=3, product__source_price_usd=Decimal("25.00"))
    cart = Cart.objects.create(customer=shopper)
    CartLine.objects.create(cart=cart, product=stock.product, quantity=2)
    order = order_place(
        customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
    )
    assert order.total_krw == 77000
    return order


def paid(order: Order, stripe_confirm_card) -> Payment:
    payment = payments.payment_intent_ensure(order_id=order.pk)
    result = stripe_confirm_card(
        payment.payment_intent_id, payment.client_secret, "4242424242424242"
    )
    assert result["status"] == "succeeded"
    assert payments.payment_reconcile(payment_id=payment.pk) == "succeeded"
    payment.refresh_from_db()
    return payment


def test_payment_intent_is_created_in_won_once(placed, stripe_local):
    payment = payments.payment_intent_ensure(order_id=placed.pk)
    again = payments.payment_intent_ensure(order_id=placed.pk)
    assert payment.payment_intent_id
    assert again.payment_intent_id == payment.payment_intent_id
    intent = stripe_client.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id)
    assert (intent.amount, intent.currency) == (77000, "krw")
    assert len(stripe_local.objects("payment_intent")) == 1


def test_create_retried_after_a_lost_answer_reuses_the_intent(placed, stripe_local, settings):
    settings.STRIPE_MAX_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 1
    stripe_local.faults(drop_next=1)  # Stripe creates it, the answer never arrives
    with pytest.raises(stripe_client.StripeUnavailable):
        payments.payment_intent_ensure(order_id=placed.pk)
    assert Payment.objects.get(order=placed).payment_intent_id is None
    payment = payments.payment_intent_ensure(order_id=placed.pk)
    assert payment.payment_intent_id
    assert len(stripe_local.objects("payment_intent")) == 1


def test_card_success_marks_paid_through_reconciliation(placed, stripe_confirm_card):
    payment = paid(placed, stripe_confirm_card)
    placed.refresh_from_db()
    assert placed.status == "paid"
    assert payment.captured_krw == 77000
    assert OutboxEvent.objects.filter(topic="order.paid", aggregate_id=str(placed.pk)).count() == 1
    # Reconciling again changes nothing.
    payments.payment_reconcile(payment_id=payment.pk)
    assert OrderStatusChange.objects.filter(order=placed, to_status="paid").count() == 1


def test_declined_card_leaves_the_order_payable(placed, stripe_confirm_card):
    payment = payments.payment_intent_ensure(order_id=placed.pk)
    result = stripe_confirm_card(
        payment.payment_intent_id, payment.client_secret, "4000000000000002"
    )
    assert result["error"]["code"] == "card_declined"
    assert payments.payment_reconcile(payment_id=payment.pk) == "requires_payment_method"
    placed.refresh_from_db()
    assert placed.status == "pending_payment"
    # The same PaymentIntent can still be paid with another card.
    ok = stripe_confirm_card(payment.payment_intent_id, payment.client_secret, "4242424242424242")
    assert ok["status"] == "succeeded"
    payments.payment_reconcile(payment_id=payment.pk)
    placed.refresh_from_db()
    assert placed.status == "paid"


def test_expiry_cancels_the_intent_and_releases_stock(placed, stripe_local):
    payment = payments.payment_intent_ensure(order_id=placed.pk)
    later = timezone.now() + datetime.timedelta(minutes=31)
    assert payments.order_expire(order_id=placed.pk, now=later) is True
    placed.refresh_from_db()
    assert placed.status == "cancelled"
    assert (
        stripe_client.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id).status
        == "canceled"
    )
    assert Stock.objects.get().reserved == 0
    assert set(Reservation.objects.values_list("status", flat=True)) == {"released"}


def test_expiry_cancels_an_intent_whose_every_answer_was_lost(placed, stripe_local, settings):
    """The create reached Stripe but its answer never arrived, and the shopper never came
    back: the payment has no intent id, yet Stripe holds an open intent. Expiry gets it
    back with the stored key and cancels it (before, it was left open at Stripe)."""
    settings.STRIPE_MAX_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 1
    stripe_local.faults(drop_next=1)
    with pytest.raises(stripe_client.StripeUnavailable):
        payments.payment_intent_ensure(order_id=placed.pk)
    assert Payment.objects.get(order=placed).payment_intent_id is None
    [made] = stripe_local.objects("payment_intent")
    later = timezone.now() + datetime.timedelta(minutes=31)
    assert payments.order_expire(order_id=placed.pk, now=later) is True
    placed.refresh_from_db()
    assert placed.status == "cancelled"
    assert len(stripe_local.objects("payment_intent")) == 1  # the same intent, no other
    assert stripe_client.payment_intent_retrieve(payment_intent_id=made["id"]).status == (
        "canceled"
    )
    payment = Payment.objects.get(order=placed)
    assert (payment.payment_intent_id, payment.status) == (made["id"], "cancelled")
    assert Stock.objects.get().reserved == 0


def test_expiry_does_not_wait_for_stripe_to_recover_a_lost_intent(placed, stripe_local, settings):
    """Stripe down at expiry and no intent id on record: an intent nobody got the client
    secret of cannot be paid, so the order is cancelled and its stock released anyway."""
    settings.STRIPE_MAX_RETRIES = 0
    stripe_local.faults(fail_next=5)  # every create answers 500
    later = timezone.now() + datetime.timedelta(minutes=31)
    assert payments.order_expire(order_id=placed.pk, now=later) is True
    placed.refresh_from_db()
    assert placed.status == "cancelled"
    assert Stock.objects.get().reserved == 0
    assert Payment.objects.get(order=placed).payment_intent_id is None


def test_expiry_before_the_window_does_nothing(placed, stripe_local):
    payments.payment_intent_ensure(order_id=placed.pk)
    assert payments.order_expire(order_id=placed.pk) is False
    placed.refresh_from_db()
    assert placed.status == "pending_payment"
    assert Stock.objects.get().reserved == 2


def test_a_payment_that_succeeded_before_expiry_is_kept(placed, stripe_confirm_card):
    payment = payments.payment_intent_ensure(order_id=placed.pk)
    stripe_confirm_card(payment.payment_intent_id, payment.client_secret, "4242424242424242")
    later = timezone.now() + datetime.timedelta(minutes=31)
    assert payments.order_expire(order_id=placed.pk, now=later) is False
    placed.refresh_from_db()
    assert placed.status == "paid"


def test_cancel_a_paid_order_refunds_everything_and_releases(
    placed, stripe_confirm_card, stripe_local
):
    payment = paid(placed, stripe_confirm_card)
    order = payments.order_cancel(
        order_id=placed.pk, actor_type="customer", actor_id=None, reason="changed my mind"
    )
    assert order.status == "cancelled"
    payment.refresh_from_db()
    assert payment.refunded_krw == 77000
    refund = Refund.objects.get(payment=payment)
    assert refund.status == "succeeded"
    assert refund.stripe_refund_id
    assert len(stripe_local.objects("refund")) == 1
    assert Stock.objects.get().reserved == 0
    assert OutboxEvent.objects.filter(topic="order.refunded").count() == 1


def test_partial_refunds_add_up_and_can_never_exceed_the_capture(placed, stripe_confirm_card):
    payment = paid(placed, stripe_confirm_card)
    first = payments.refund_request(
        order_id=placed.pk, amount_krw=27000, reason="one item", actor_id=None
    )
    assert first.status == "succeeded"
    placed.refresh_from_db()
    assert placed.status == "partially_refunded"
    with pytest.raises(payments.RefundRefused):
        payments.refund_request(
            order_id=placed.pk, amount_krw=50001, reason="too much", actor_id=None
        )
    assert Refund.objects.count() == 1
    payments.refund_request(order_id=placed.pk, amount_krw=50000, reason="the rest", actor_id=None)
    placed.refresh_from_db()
    payment.refresh_from_db()
    assert placed.status == "refunded"
    assert payment.refunded_krw == 77000
    # The database refuses more than was captured, whatever code tries.
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refunded_krw=77001)


def test_refund_retried_after_a_lost_answer_refunds_once(
    placed, stripe_confirm_card, stripe_local, settings
):
    paid(placed, stripe_confirm_card)
    settings.STRIPE_MAX_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 1
    stripe_local.faults(drop_next=1)  # Stripe refunds, the answer is lost
    refund = payments.refund_request(
        order_id=placed.pk, amount_krw=10000, reason="r", actor_id=None
    )
    assert refund.status == "pending"
    # The money is out at Stripe but not yet booked here; no second refund may be asked
    # beyond what is left.
    with pytest.raises(payments.RefundRefused):
        payments.refund_request(order_id=placed.pk, amount_krw=67001, reason="r", actor_id=None)
    retried = payments.refund_submit(refund_id=refund.pk)
    assert retried.status == "succeeded"
    payments.refund_submit(refund_id=refund.pk)  # a second retry is a no-op
    assert len(stripe_local.objects("refund")) == 1
    assert Payment.objects.get(order=placed).refunded_krw == 10000


def test_paid_after_cancellation_is_refunded_automatically(
    placed, stripe_confirm_card, stripe_local
):
    payment = payments.payment_intent_ensure(order_id=placed.pk)
    with transaction.atomic():
        from orders.lifecycle import order_transition

        locked = Order.objects.select_for_update().get(pk=placed.pk)
        order_transition(order=locked, to_status="cancelled", actor_type="system", reason="test")
    stripe_confirm_card(payment.payment_intent_id, payment.client_secret, "4242424242424242")
    payments.payment_reconcile(payment_id=payment.pk)
    refund = Refund.objects.get(payment=payment)
    assert refund.amount_krw == 77000
    payments.refund_submit(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    placed.refresh_from_db()
    assert placed.status == "cancelled"


def test_refund_lines_refunds_units_once(placed, stripe_confirm_card, stripe_local):
    paid(placed, stripe_confirm_card)
    line = placed.lines.get()
    refund = payments.refund_lines(
        order_id=placed.pk, lines={line.pk: 1}, reason="one unit back", actor_id=None
    )
    assert (refund.status, refund.amount_krw) == ("succeeded", 38500)
    line.refresh_from_db()
    assert line.cancelled_quantity == 1
    with pytest.raises(payments.RefundRefused):
        payments.refund_lines(order_id=placed.pk, lines={line.pk: 2}, reason="x", actor_id=None)
    assert Refund.objects.count() == 1
    assert len(stripe_local.objects("refund")) == 1


def test_a_cancelled_intent_is_replaced_while_the_order_is_open(placed, stripe_local):
    first = payments.payment_intent_ensure(order_id=placed.pk)
    stripe_client.payment_intent_cancel(
        payment_intent_id=first.payment_intent_id, idempotency_key="cancel-test"
    )
    Payment.objects.filter(pk=first.pk).update(status=Payment.Status.CANCELLED)
    second = payments.payment_intent_ensure(order_id=placed.pk)
    assert second.pk != first.pk
    assert second.payment_intent_id != first.payment_intent_id
    intent = stripe_client.payment_intent_retrieve(payment_intent_id=second.payment_intent_id)
    assert intent.status == "requires_payment_method"
