"""``storefront.prepared.PreparedQuery``: a read query compiled once per process gives the same
model instances as the queryset it stands for."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from orders.models import Cart, CartLine
from orders.services import checkout
from storefront.prepared import PreparedQuery
from tests.factories import StockFactory

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {name: value for name, value in vars(obj).items() if not name.startswith("_")}


@pytest.fixture
def cart():
    cart = Cart.objects.create(session_key="prepared")
    for on_hand, price in ((3, Decimal("10.00")), (0, Decimal("12.50"))):
        product = StockFactory(on_hand=on_hand, product__source_price_usd=price).product
        CartLine.objects.create(cart=cart, product=product, quantity=2)
    return cart


@pytest.mark.parametrize("with_available", [False, True])
def test_cart_lines_are_the_querysets_objects(cart, with_available):
    expected = list(
        checkout._cart_lines_query(with_available=with_available).filter(cart_id=cart.pk)
    )
    with CaptureQueriesContext(connection) as queries:
        got = checkout._cart_lines(cart.pk, with_available=with_available)
    assert len(queries) == 1
    assert checkout._CART_LINES[with_available]._compiled is not None  # not the fallback
    assert len(got) == len(expected) == 2
    for line, same in zip(got, expected, strict=True):
        assert _fields(line) == _fields(same)
        assert {k: type(v) for k, v in _fields(line).items()} == {
            k: type(v) for k, v in _fields(same).items()
        }
        assert (line._state.adding, line._state.db) == (False, "default")
        assert _fields(line.product) == _fields(same.product)
        assert line.product.get_deferred_fields() == same.product.get_deferred_fields()
        assert _fields(line.product.customs_class) == _fields(same.product.customs_class)
    if with_available:
        assert [line.domestic_available for line in got] == [3, 0]


def test_another_cart_gets_its_own_lines(cart):
    other = Cart.objects.create(session_key="other")
    assert checkout._cart_lines(other.pk) == []
    assert len(checkout._cart_lines(cart.pk)) == 2


def test_a_placeholder_used_twice_falls_back_to_the_queryset(cart):
    prepared = PreparedQuery(
        lambda cart_id: CartLine.objects.filter(cart_id=cart_id, cart__pk=cart_id), "cart_id"
    )
    assert len(prepared.fetch(cart_id=cart.pk)) == 2
    assert prepared._compiled is None


@pytest.mark.django_db(transaction=True)
def test_select_for_update_still_needs_a_transaction():
    cart = Cart.objects.create(session_key="locked")
    prepared = PreparedQuery(
        lambda cart_id: Cart.objects.select_for_update().filter(pk=cart_id), "cart_id"
    )
    with transaction.atomic():
        assert [c.pk for c in prepared.fetch(cart_id=cart.pk)] == [cart.pk]
    with pytest.raises(TransactionManagementError):
        prepared.fetch(cart_id=cart.pk)
