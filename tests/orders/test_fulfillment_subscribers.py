"""Orders reacting to fulfillment's events: a cross-border line that Amazon could not
supply (cancelled by staff) is refunded once, however often the event is delivered."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from orders.models import Cart, CartLine, Refund
from orders.services import payments
from orders.services.checkout import ShippingAddress, order_place
from storefront.events import event_deliver, event_publish
from tests.factories import ExchangeRateFactory, StockFactory

pytestmark = pytest.mark.django_db

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)


def test_cancelled_purchase_line_is_refunded_once(
    django_user_model, stripe_local, stripe_confirm_card
):
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    shopper = django_user_model.objects.create_user("r@example.com", email="r@example.com")
    stock = StockFactory(on_hand=5, product__source_price_usd=Decimal("25.00"))
    cart = Cart.objects.create(customer=shopper)
    CartLine.objects.create(cart=cart, product=stock.product, quantity=2)
    order = order_place(
        customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
    )
    payment = payments.payment_intent_ensure(order_id=order.pk)
    stripe_confirm_card(payment.payment_intent_id, payment.client_secret, "4242424242424242")
    payments.payment_reconcile(payment_id=payment.pk)
    line = order.lines.get()

    with transaction.atomic():
        event = event_publish(
            topic="purchase_order_line.cancelled",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={
                "order_id": order.pk,
                "order_line_id": line.pk,
                "quantity": 1,
                "purchase_order_line_id": 987,
            },
        )
    event_deliver(event_id=event.pk)
    event_deliver(event_id=event.pk)  # a redelivery finds the refund

    refund = Refund.objects.get()
    assert (refund.amount_krw, refund.status) == (38500, "succeeded")
    assert refund.idempotency_key == "re-poline-987"
    line.refresh_from_db()
    assert line.cancelled_quantity == 1
    assert len(stripe_local.objects("refund")) == 1
    # Called again directly with the same name: still one refund.
    again = payments.refund_lines(
        order_id=order.pk,
        lines={line.pk: 1},
        reason="again",
        actor_id=None,
        idempotency_key="re-poline-987",
    )
    assert again.pk == refund.pk
    assert Refund.objects.count() == 1
