"""How many SQL statements placing an order costs (issue 7: order placement speed).

The counts are what ``order_place``, ``checkout_quote`` and ``payment_intent_ensure`` send
once the FX rates are cached (they are for a minute in production). They were cut from 29
to 20, then to 18, for a two-line order (quote + place + PaymentIntent); these tests keep
them from creeping back: the cart read twice, a second stock read for the preview, a
look-up of reservations an order created a moment ago cannot have, a savepoint around them,
a row lock where one conditional ``UPDATE`` does, the order row updated after its insert
when the reservation split it as previewed, or a query per cart line (the stock rows are
taken in one ``UPDATE``).

The tests run inside the test's transaction, so ``order_place``'s own transaction is a
savepoint here: ``SAVEPOINT`` and ``RELEASE`` stand where production has ``BEGIN`` and
``COMMIT`` (which Django records too), so the counts are the production ones.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.models import Reservation, Stock
from orders.models import Cart, CartLine, Order, Payment
from orders.services.checkout import ShippingAddress, checkout_quote, order_place
from orders.services.payments import payment_intent_ensure
from tests.factories import ExchangeRateFactory, StockFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)

# A domestic order (no PCCC, no points) in the test's transaction:
#   1 the cart's lines, their products and customs classes, and their free domestic units
#   2 SAVEPOINT (order_place's transaction; BEGIN in production)
#   3 the cart row locked
#   4 the cart's lines deleted (nothing deleted: a concurrent placement came first)
#   5-7 SAVEPOINT, the order row, RELEASE (a new number on the rare collision)
#   (the order row is inserted priced from the preview split: no UPDATE of its totals when
#   the reservation splits the lines the same way)
#   8 the stock rows locked
#   9 one conditional UPDATE for all the stock rows the lines take units from
#   10 the reservations (one INSERT)
#   11 the order lines (one INSERT), 12 the payment,
#   13 the status change, 14 order.placed in the outbox
#   15 RELEASE (COMMIT in production)
PLACE_FIXED = 15


@pytest.fixture
def shopper(django_user_model):
    return django_user_model.objects.create_user(
        "hong@example.com", email="hong@example.com", password="x"
    )


@pytest.fixture
def rates():
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    ExchangeRateFactory(kind="customs", rate=Decimal("1390"))


@pytest.fixture
def products():
    """Three products with domestic stock, each in one warehouse."""
    warehouse = WarehouseFactory(code="icn", priority=10)
    return [
        StockFactory(warehouse=warehouse, on_hand=10, product__source_price_usd=price).product
        for price in (Decimal("25.00"), Decimal("12.50"), Decimal("8.00"))
    ]


def cart_with(shopper, products) -> Cart:
    cart = Cart.objects.create(customer=shopper)
    for product in products:
        CartLine.objects.create(cart=cart, product=product, quantity=1)
    return cart


def placed_with_queries(shopper, cart: Cart) -> tuple[Order, list[str]]:
    quote = checkout_quote(cart_id=cart.pk)  # also caches the FX rates, as in production
    with CaptureQueriesContext(connection) as queries:
        order = order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart.pk,
            address=HONG,
            customs=None,
            expected_total_krw=quote.total_krw,
        )
    return order, [query["sql"] for query in queries.captured_queries]


def test_checkout_quote_is_one_query_with_rates_cached(shopper, rates, products):
    cart = cart_with(shopper, products[:2])
    checkout_quote(cart_id=cart.pk)  # caches the FX rates
    with CaptureQueriesContext(connection) as queries:
        quote = checkout_quote(cart_id=cart.pk)
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert [line.domestic_quantity for line in quote.lines] == [1, 1]


def test_placing_a_two_line_domestic_order_costs_the_fixed_statements_and_one_update_a_line(
    shopper, rates, products
):
    cart = cart_with(shopper, products[:2])
    order, queries = placed_with_queries(shopper, cart)

    assert len(queries) == PLACE_FIXED, "\n".join(queries)
    # What was placed is whole: reserved, priced, paid for later, cart emptied.
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.lines.count() == 2
    assert Reservation.objects.filter(order=order).count() == 2
    assert sorted(Stock.objects.values_list("reserved", flat=True)) == [0, 1, 1]
    assert Payment.objects.filter(order=order).count() == 1
    assert not cart.lines.exists()
    # The redundant reads this work removed.
    cart_reads = [q for q in queries if q.startswith("SELECT") and '"orders_cartline"' in q]
    assert len(cart_reads) == 1, cart_reads
    assert not [q for q in queries if q.startswith("SELECT") and "fulfillment_reservation" in q]
    stock_reads = [q for q in queries if q.startswith('SELECT "fulfillment_stock"')]
    assert len(stock_reads) == 1, stock_reads  # the locked read; the preview rode on the cart's
    assert not [q for q in queries if q.startswith('UPDATE "orders_order"')]


def test_more_cart_lines_add_no_statement(shopper, rates, products):
    one, one_line = placed_with_queries(shopper, cart_with(shopper, products[:1]))
    other = type(shopper).objects.create_user("kim@example.com", email="kim@example.com")
    three, three_lines = placed_with_queries(other, cart_with(other, products))

    assert len(one_line) == PLACE_FIXED, "\n".join(one_line)
    assert len(three_lines) == PLACE_FIXED, "\n".join(three_lines)
    updates = [q for q in three_lines if q.startswith('UPDATE "fulfillment_stock"')]
    assert len(updates) == 1
    # The one UPDATE took the units of all three rows.
    assert sorted(Stock.objects.values_list("reserved", flat=True)) == [1, 1, 2]
    assert Reservation.objects.filter(order=three).count() == 3
    assert Reservation.objects.filter(order=one).count() == 1


def test_payment_intent_is_created_and_stored_in_two_queries(
    shopper, rates, products, stripe_local
):
    order, _queries = placed_with_queries(shopper, cart_with(shopper, products[:2]))

    with CaptureQueriesContext(connection) as queries:
        payment = payment_intent_ensure(order_id=order.pk)
    # The payment with its order, then one conditional UPDATE storing the intent.
    assert len(queries.captured_queries) == 2, [q["sql"] for q in queries.captured_queries]
    stored = Payment.objects.get(pk=payment.pk)
    assert stored.payment_intent_id == payment.payment_intent_id
    assert stored.payment_intent_id.startswith("pi_")
    assert stored.client_secret == payment.client_secret
    assert stored.status == Payment.Status.REQUIRES_PAYMENT == payment.status

    with CaptureQueriesContext(connection) as again:
        same = payment_intent_ensure(order_id=order.pk)
    assert len(again.captured_queries) == 1  # it has its intent: nothing to call or store
    assert same.payment_intent_id == payment.payment_intent_id
