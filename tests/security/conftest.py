"""Shared helpers of the security tests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Cart, CartLine, Order
from orders.services.checkout import ShippingAddress, order_place
from tests.api.conftest import api_client, other_partner, partner  # noqa: F401 (fixtures)
from tests.factories import ExchangeRateFactory, StockFactory

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)


def parse_csp(header: str) -> dict[str, list[str]]:
    """``Content-Security-Policy`` as {directive: [sources]}."""
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


@pytest.fixture
def placed_order(django_user_model):
    """A domestic order awaiting payment, and its shopper."""

    def make(email: str = "s@example.com") -> Order:
        ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
        shopper = django_user_model.objects.create_user(email, email=email)
        stock = StockFactory(on_hand=3, product__source_price_usd=Decimal("25.00"))
        cart = Cart.objects.create(customer=shopper)
        CartLine.objects.create(cart=cart, product=stock.product, quantity=1)
        return order_place(
            customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
        )

    return make
