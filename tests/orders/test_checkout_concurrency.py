"""Checkout under real concurrency on PostgreSQL: 20 shoppers (threads, separate
connections) place orders for the last 5 units at once. Exactly 5 get them, no stock row
goes below zero, nobody deadlocks, and the losers either get nothing placed (no PCCC) or an
order that ships the unit cross-border (PCCC given)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F, Sum

from fulfillment.models import Reservation, Stock
from orders.models import Cart, CartLine, Order, OrderLine
from orders.services.checkout import (
    CustomsDeclaration,
    PcccRequired,
    ShippingAddress,
    order_place,
)
from tests.concurrency import run_concurrently
from tests.factories import ExchangeRateFactory, ProductFactory, StockFactory, WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SHOPPERS = 20
HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)


@pytest.fixture
def last_five_units(django_user_model):
    """One product with 3 + 2 units left in two warehouses, and 20 shoppers whose carts
    each hold one unit of it."""
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    product = ProductFactory(source_price_usd=Decimal("40.00"))
    StockFactory(product=product, warehouse=WarehouseFactory(code="icn1", priority=1), on_hand=3)
    StockFactory(product=product, warehouse=WarehouseFactory(code="pyt1", priority=2), on_hand=2)
    carts = []
    for n in range(SHOPPERS):
        shopper = django_user_model.objects.create_user(
            f"s{n}@example.com", email=f"s{n}@example.com"
        )
        cart = Cart.objects.create(customer=shopper)
        CartLine.objects.create(cart=cart, product=product, quantity=1)
        carts.append(cart)
    return product, carts


def place(cart: Cart, customs: CustomsDeclaration | None):
    return lambda: order_place(
        customer_id=cart.customer_id,
        email=f"{cart.customer_id}@example.com",
        cart_id=cart.pk,
        address=HONG,
        customs=customs,
    )


def assert_stock_intact(product) -> None:
    assert Stock.objects.filter(product=product).aggregate(Sum("reserved"))["reserved__sum"] == 5
    assert not Stock.objects.filter(reserved__gt=F("on_hand") - F("allocated")).exists()


def test_twenty_shoppers_without_pccc_five_get_the_units(last_five_units):
    product, carts = last_five_units
    outcomes = run_concurrently([place(cart, None) for cart in carts], allow_errors=True)
    placed = [o for o in outcomes if isinstance(o, Order)]
    refused = [o for o in outcomes if isinstance(o, PcccRequired)]
    assert len(placed) == 5
    assert len(refused) == 15  # told that the item now ships from the US: enter a PCCC
    assert Order.objects.count() == 5
    assert OrderLine.objects.filter(domestic_quantity=1).count() == 5
    assert Reservation.objects.count() == 5  # the refused placements left nothing behind
    assert_stock_intact(product)
    # The losers keep their carts to try again.
    assert CartLine.objects.count() == 15


def test_twenty_shoppers_with_pccc_all_placed_five_ship_from_korea(last_five_units, customs_check):
    product, carts = last_five_units
    customs = CustomsDeclaration(
        pccc="P100000000001", consent_collection=True, consent_transfer=True
    )
    outcomes = run_concurrently([place(cart, customs) for cart in carts])
    assert all(isinstance(o, Order) for o in outcomes)
    lines = OrderLine.objects.filter(product=product)
    assert lines.filter(domestic_quantity=1, cross_border_quantity=0).count() == 5
    assert lines.filter(domestic_quantity=0, cross_border_quantity=1).count() == 15
    assert Order.objects.filter(has_cross_border=True).count() == 15
    assert_stock_intact(product)
