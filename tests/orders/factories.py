"""Order factories for the admin and email tests, on top of ``tests.factories.OrderFactory``
(a domestic-only order awaiting payment whose total adds up). Every row is valid against the
orders constraints: totals add up, line totals are unit × quantity, a line's quantity is its
domestic plus cross-border units, a cross-border order carries an encrypted PCCC and the
customs consent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from orders.models import Order, OrderLine, Payment
from orders.pccc import pccc_encrypt
from tests.factories import OrderFactory, ProductFactory

PCCC = "P123456789012"


class CrossBorderOrderFactory(OrderFactory):
    """An order with a cross-border part: the PCCC (``pccc=``) encrypted, its last four
    digits and the consent recorded, the customs decision frozen (duty-free by default)."""

    class Params:
        pccc = PCCC

    has_cross_border = True
    pccc_encrypted = factory.LazyAttribute(lambda o: pccc_encrypt(o.pccc))
    pccc_last4 = factory.LazyAttribute(lambda o: o.pccc[-4:])
    customs_consent_at = factory.LazyFunction(timezone.now)
    customs_goods_value_usd = Decimal("45.00")
    duty_free_limit_usd = Decimal("200.00")
    duty_free = True


class OrderLineFactory(factory.django.DjangoModelFactory):
    """A line of ``quantity`` units, all shipping from Korea unless ``cross_border_quantity``
    says how many ship from the US."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    asin = factory.LazyAttribute(lambda o: o.product.asin)
    title = factory.LazyAttribute(lambda o: o.product.title)
    quantity = 1
    cross_border_quantity = 0
    domestic_quantity = factory.LazyAttribute(lambda o: o.quantity - o.cross_border_quantity)
    unit_price_krw = 30000
    unit_price_usd = Decimal("19.99")
    line_total_krw = factory.LazyAttribute(lambda o: o.unit_price_krw * o.quantity)
    customs_class_code = "other"
    duty_rate = Decimal("0.0800")
    weight_kg = Decimal("0.500")


class PaymentFactory(factory.django.DjangoModelFactory):
    """A Stripe payment of the order's total, captured (``succeeded``) by default."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    idempotency_key = factory.Sequence(lambda n: f"pi-test-{n}")
    payment_intent_id = factory.Sequence(lambda n: f"pi_test_{n:06d}")
    status = Payment.Status.SUCCEEDED
    amount_krw = factory.LazyAttribute(lambda o: o.order.total_krw)
    captured_krw = factory.LazyAttribute(
        lambda o: o.amount_krw if o.status == Payment.Status.SUCCEEDED else 0
    )


def paid_order(
    *,
    factory_class: type[OrderFactory] = OrderFactory,
    paid_at: datetime.datetime | None = None,
    **fields,
) -> Order:
    """A paid order (status, ``paid_at`` and a captured payment of its total)."""
    order = factory_class(status=Order.Status.PAID, paid_at=paid_at or timezone.now(), **fields)
    PaymentFactory(order=order)
    return order
