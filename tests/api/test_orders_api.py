"""The orders' partner API: orders are paid at creation and charged to the partner's credit,
a refusal leaves nothing behind, a partner only ever sees or changes its own orders, prices
and status cannot be sent, POSTs are idempotent, cancellation refunds the credit, and the
shipments endpoint shows parcels with their tracking."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from fulfillment.models import Reservation, Shipment, ShipmentLine, Stock, TrackingEvent
from orders.models import Cart, CartLine, Order, OrderStatusChange, Payment, Refund
from orders.services.partner_orders import partner_credit_used
from orders.services.payments import PARTNER_ACCOUNT
from storefront.models import ApiIdempotencyKey, OutboxEvent
from tests.concurrency import run_concurrently
from tests.factories import (
    ExchangeRateFactory,
    OrderFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)
from tests.orders.factories import OrderLineFactory, PaymentFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
HONG = {
    "name": "홍길동",
    "phone": "010-1234-5678",
    "postal_code": "06236",
    "road_address": "서울특별시 강남구 테헤란로 152",
    "detail_address": "101동 1001호",
}
HONG_PCCC = "P100000000001"
_keys = iter(range(10**6))


def key() -> str:
    return f"test-key-{next(_keys)}"


@pytest.fixture
def rates():
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    ExchangeRateFactory(kind="customs", rate=Decimal("1390"))


@pytest.fixture
def domestic_product():
    """₩38,500 a unit (25 USD × 1400 × 1.1), 5 units in a Korean warehouse."""
    return StockFactory(on_hand=5, product__source_price_usd=Decimal("25.00")).product


@pytest.fixture
def us_product():
    return ProductFactory(source_price_usd=Decimal("30.00"), weight_kg=Decimal("0.800"))


def order_body(*lines, **overrides) -> dict:
    body = {
        "email": "customer@example.com",
        "lines": [{"asin": product.asin, "quantity": quantity} for product, quantity in lines],
        "recipient": dict(HONG),
    }
    body.update(overrides)
    return body


def place(client: APIClient, body: dict, idempotency_key: str | None = None):
    return client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=idempotency_key or key())


def nothing_left_behind() -> None:
    assert Order.objects.count() == 0
    assert Payment.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert OrderStatusChange.objects.count() == 0
    assert OutboxEvent.objects.filter(topic__startswith="order.").count() == 0
    assert Stock.objects.filter(reserved__gt=0).count() == 0
    assert Cart.objects.count() == 0
    assert CartLine.objects.count() == 0


def snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        order.updated_at,
        OrderStatusChange.objects.filter(order=order).count(),
        Refund.objects.filter(payment__order=order).count(),
        OutboxEvent.objects.filter(aggregate_id=str(order.pk)).count(),
    )


# --- placement ---------------------------------------------------------------------------


def test_order_is_paid_at_creation_and_charged_to_the_partner(
    api_client, partner, rates, domestic_product
):
    response = place(api_client(partner), order_body((domestic_product, 2), reference="ext-1"))
    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get(number=body["number"])
    assert body["status"] == "paid" == order.status
    assert body["reference"] == "ext-1"
    assert order.partner_id == partner.pk
    assert order.customer_id is None
    assert body["total_krw"] == order.total_krw == 77000  # 2 × ₩38,500, free shipping
    assert body["recipient"]["phone"] == "+821012345678"
    payment = Payment.objects.get(order=order)
    assert payment.provider == PARTNER_ACCOUNT
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.captured_krw == payment.amount_krw == order.total_krw
    assert payment.payment_intent_id is None  # never sent to Stripe
    assert partner_credit_used(partner_id=partner.pk) == order.total_krw
    assert list(
        OutboxEvent.objects.filter(aggregate_id=str(order.pk)).values_list("topic", flat=True)
    ) == ["order.paid", "order.placed"]  # newest first: fulfillment allocates on order.paid
    assert Reservation.objects.get(order=order).quantity == 2
    assert list(
        OrderStatusChange.objects.filter(order=order).values_list("to_status", "actor_type")
    ) == [("pending_payment", "partner"), ("paid", "partner")]
    assert Cart.objects.count() == 0  # the temporary cart is gone


def test_cross_border_order_verifies_the_pccc_with_customs(
    api_client, partner, rates, us_product, customs_check
):
    response = place(
        api_client(partner),
        order_body((us_product, 1), pccc="p1000-0000-0001", customs_consent=True),
    )
    assert response.status_code == 201, response.json()
    order = Order.objects.get(number=response.json()["number"])
    assert order.has_cross_border
    assert order.pccc_last4 == "0001"
    assert response.json()["pccc_last4"] == "0001"
    assert order.status == "paid"


def test_cross_border_without_pccc_or_consent_names_the_fields(
    api_client, partner, rates, us_product, customs_check
):
    client = api_client(partner)
    missing = place(client, order_body((us_product, 1)))
    assert missing.status_code == 400
    assert missing.json()["code"] == "pccc_required"
    assert "pccc" in missing.json()["fields"]
    no_consent = place(client, order_body((us_product, 1), pccc=HONG_PCCC))
    assert no_consent.status_code == 400
    assert set(no_consent.json()["fields"]) == {"customs_consent"}
    nothing_left_behind()


def test_pccc_refused_by_customs_gives_its_reason_on_the_field(
    api_client, partner, rates, us_product, customs_check
):
    response = place(
        api_client(partner),
        order_body((us_product, 1), pccc="P100000000009", customs_consent=True),  # withdrawn
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "pccc_rejected"
    assert set(body["fields"]) == {"pccc"}
    assert body["fields"]["pccc"]
    nothing_left_behind()


def test_recipient_mismatch_and_malformed_pccc_land_on_their_fields(
    api_client, partner, rates, us_product, customs_check
):
    client = api_client(partner)
    mismatch = place(
        client,
        order_body(
            (us_product, 1),
            recipient={**HONG, "name": "김민지"},
            pccc=HONG_PCCC,
            customs_consent=True,
        ),
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["code"] == "pccc_rejected"
    assert "recipient.name" in mismatch.json()["fields"]
    malformed = place(client, order_body((us_product, 1), pccc="P12", customs_consent=True))
    assert malformed.status_code == 400
    assert set(malformed.json()["fields"]) == {"pccc"}
    nothing_left_behind()


def test_customs_down_is_503_and_places_nothing(
    api_client, partner, rates, us_product, customs_check
):
    customs_check.faults("customs", fail_next=10)
    idempotency_key = key()
    body = order_body((us_product, 1), pccc=HONG_PCCC, customs_consent=True)
    response = place(api_client(partner), body, idempotency_key)
    assert response.status_code == 503
    assert response.json()["code"] == "customs_check_unavailable"
    nothing_left_behind()
    # Not remembered: the same key runs again once customs answers.
    assert not ApiIdempotencyKey.objects.filter(key=idempotency_key).exists()
    customs_check.reset("customs")
    assert place(api_client(partner), body, idempotency_key).status_code == 201


def test_validation_errors_name_every_bad_field(api_client, partner, rates, domestic_product):
    body = order_body(
        (domestic_product, 0),
        email="not-an-email",
        recipient={**HONG, "phone": "02-123-4567", "postal_code": "1234"},
    )
    body["lines"].append({"asin": domestic_product.asin})
    response = place(api_client(partner), body)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "email",
        "lines[0].quantity",
        "lines[1].quantity",
        "recipient.phone",
        "recipient.postal_code",
    }
    nothing_left_behind()


def test_unknown_and_inactive_products_are_400_on_their_line(
    api_client, partner, rates, domestic_product
):
    inactive = ProductFactory(is_active=False)
    body = order_body((domestic_product, 1), (inactive, 1))
    body["lines"].append({"asin": "B000NOSUCH", "quantity": 1})
    response = place(api_client(partner), body)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"lines[1].asin", "lines[2].asin"}
    nothing_left_behind()


def test_reference_is_unique_per_partner(
    api_client, partner, other_partner, rates, domestic_product
):
    client = api_client(partner)
    assert place(client, order_body((domestic_product, 1), reference="ext-9")).status_code == 201
    again = place(client, order_body((domestic_product, 1), reference="ext-9"))
    assert again.status_code == 409
    assert again.json()["code"] == "reference_already_used"
    assert Order.objects.count() == 1
    # Another partner may use the same reference for its own order.
    other = place(api_client(other_partner), order_body((domestic_product, 1), reference="ext-9"))
    assert other.status_code == 201


# --- credit ------------------------------------------------------------------------------


def test_over_the_credit_limit_is_refused_and_leaves_nothing(
    api_client, partner, rates, domestic_product
):
    partner.credit_limit_krw = 76_999  # the order costs ₩77,000
    partner.save(update_fields=["credit_limit_krw"])
    response = place(api_client(partner), order_body((domestic_product, 2)))
    assert response.status_code == 402
    assert response.json()["code"] == "credit_limit_exceeded"
    nothing_left_behind()


def test_open_orders_count_against_the_credit_and_cancelling_gives_it_back(
    api_client, partner, rates, domestic_product
):
    partner.credit_limit_krw = 100_000
    partner.save(update_fields=["credit_limit_krw"])
    client = api_client(partner)
    first = place(client, order_body((domestic_product, 2)))  # ₩77,000
    assert first.status_code == 201
    second = place(client, order_body((domestic_product, 1)))  # ₩38,500 + shipping > ₩23,000
    assert second.status_code == 402
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.filter(topic="order.paid").count() == 1

    number = first.json()["number"]
    cancel = client.post(f"{ORDERS}{number}/cancel/", format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert cancel.status_code == 200
    assert partner_credit_used(partner_id=partner.pk) == 0
    assert place(client, order_body((domestic_product, 1))).status_code == 201


def test_exactly_at_the_limit_is_accepted(api_client, partner, rates, domestic_product):
    partner.credit_limit_krw = 77_000
    partner.save(update_fields=["credit_limit_krw"])
    assert place(api_client(partner), order_body((domestic_product, 2))).status_code == 201


# --- mass assignment ---------------------------------------------------------------------


def test_prices_status_totals_and_partner_in_the_body_change_nothing(
    api_client, partner, other_partner, rates, domestic_product
):
    body = order_body((domestic_product, 2))
    body["lines"][0].update({"unit_price_krw": 1, "line_total_krw": 2, "domestic_quantity": 0})
    body.update(
        {
            "status": "delivered",
            "total_krw": 1,
            "items_krw": 1,
            "discount_krw": 76_000,
            "duty_krw": 0,
            "partner": other_partner.pk,
            "partner_id": other_partner.pk,
            "number": "GS000000-HACKED",
            "paid_at": "2020-01-01T00:00:00Z",
        }
    )
    response = place(api_client(partner), body)
    assert response.status_code == 201
    order = Order.objects.get()
    assert order.number != "GS000000-HACKED"
    assert order.partner_id == partner.pk
    assert order.status == "paid"
    assert (order.items_krw, order.discount_krw, order.total_krw) == (77000, 0, 77000)
    line = order.lines.get()
    assert (line.unit_price_krw, line.line_total_krw) == (38500, 77000)
    assert Payment.objects.get().captured_krw == 77000
    assert partner_credit_used(partner_id=other_partner.pk) == 0


# --- object-level authorization ----------------------------------------------------------


def _foreign_orders(other_partner):
    """Another partner's paid order and a shopper's paid order (with a line and payment)."""
    theirs = OrderFactory(partner=other_partner, status=Order.Status.PAID)
    OrderLineFactory(order=theirs, unit_price_krw=30000)
    PaymentFactory(order=theirs, provider=PARTNER_ACCOUNT, payment_intent_id=None)
    shoppers = OrderFactory(status=Order.Status.PAID)
    OrderLineFactory(order=shoppers, unit_price_krw=30000)
    PaymentFactory(order=shoppers)
    return theirs, shoppers


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("get", "shipments/"), ("post", "cancel/")],
)
def test_another_partners_or_a_shoppers_order_is_404_and_unchanged(
    api_client, partner, other_partner, method, suffix
):
    client = api_client(partner)
    for order in _foreign_orders(other_partner):
        before = snapshot(order)
        kwargs = {"HTTP_IDEMPOTENCY_KEY": key()} if method == "post" else {}
        response = getattr(client, method)(f"{ORDERS}{order.number}/{suffix}", **kwargs)
        assert response.status_code == 404, (order, response.content)
        assert response.json()["code"] == "not_found"
        assert snapshot(order) == before


def test_list_shows_own_orders_only(api_client, partner, other_partner, rates, domestic_product):
    _foreign_orders(other_partner)
    mine = place(api_client(partner), order_body((domestic_product, 1))).json()["number"]
    response = api_client(partner).get(ORDERS)
    assert response.status_code == 200
    assert [order["number"] for order in response.json()["results"]] == [mine]


def test_list_filters_and_cursor(api_client, partner, rates, domestic_product):
    client = api_client(partner)
    numbers = [place(client, order_body((domestic_product, 1))).json()["number"] for _ in range(3)]
    client.post(f"{ORDERS}{numbers[0]}/cancel/", format="json", HTTP_IDEMPOTENCY_KEY=key())
    paid = client.get(ORDERS, {"status": "paid"}).json()["results"]
    assert {order["number"] for order in paid} == set(numbers[1:])
    first = client.get(ORDERS, {"limit": 2}).json()
    second = client.get(first["next"]).json()
    walked = [o["number"] for o in first["results"] + second["results"]]
    assert sorted(walked) == sorted(numbers)
    assert len(walked) == 3
    future = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    assert client.get(ORDERS, {"created_since": future}).json()["results"] == []
    assert client.get(ORDERS, {"status": "nonsense"}).status_code == 400


# --- idempotency -------------------------------------------------------------------------


def test_replay_returns_the_same_response_and_places_one_order(
    api_client, partner, rates, domestic_product
):
    client = api_client(partner)
    body = order_body((domestic_product, 1))
    first = place(client, body, "same-key")
    replay = place(client, body, "same-key")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1


def test_same_key_with_another_body_is_409_and_changes_nothing(
    api_client, partner, rates, domestic_product
):
    client = api_client(partner)
    assert place(client, order_body((domestic_product, 1)), "k").status_code == 201
    conflict = place(client, order_body((domestic_product, 2)), "k")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1
    assert Stock.objects.get(product=domestic_product).reserved == 1


def test_post_without_idempotency_key_is_refused(api_client, partner, rates, domestic_product):
    response = api_client(partner).post(ORDERS, order_body((domestic_product, 1)), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    nothing_left_behind()


def _client_with_key(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_place_exactly_one_order(
    api_client, partner, rates, domestic_product
):
    raw_key = api_client(partner).raw_key
    body = order_body((domestic_product, 1))

    def post():
        response = place(_client_with_key(raw_key), body, "concurrent-key")
        return response.status_code, response.json()

    outcomes = run_concurrently([post] * 4)
    assert {status for status, _ in outcomes} == {201}
    assert len({answer["number"] for _, answer in outcomes}) == 1
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1
    assert Stock.objects.get(product=domestic_product).reserved == 1
    assert OutboxEvent.objects.filter(topic="order.paid").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_cannot_overdraw_the_credit(api_client, partner, rates):
    """Room for one order, three at once for different products (no stock row in common):
    only the partner lock stands between them, and it lets exactly one through."""
    partner.credit_limit_krw = 77_000
    partner.save(update_fields=["credit_limit_krw"])
    raw_key = api_client(partner).raw_key
    products = [
        StockFactory(on_hand=5, product__source_price_usd=Decimal("25.00")).product
        for _ in range(3)
    ]

    def post(product):
        body = order_body((product, 2))  # ₩77,000 each
        return lambda: place(_client_with_key(raw_key), body, f"k-{product.asin}").status_code

    outcomes = run_concurrently([post(product) for product in products])
    assert sorted(outcomes) == [201, 402, 402]
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1
    assert sum(Stock.objects.values_list("reserved", flat=True)) == 2
    assert partner_credit_used(partner_id=partner.pk) == 77_000


# --- cancellation ------------------------------------------------------------------------


def test_cancel_before_shipping_refunds_the_credit_and_publishes_cancelled(
    api_client, partner, rates, domestic_product
):
    client = api_client(partner)
    number = place(client, order_body((domestic_product, 2))).json()["number"]
    order = Order.objects.get(number=number)
    response = client.post(f"{ORDERS}{number}/cancel/", format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    refund = Refund.objects.get(payment__order=order)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.amount_krw == order.total_krw
    assert refund.stripe_refund_id is None
    payment = Payment.objects.get(order=order)
    assert payment.refunded_krw == payment.captured_krw == order.total_krw
    assert partner_credit_used(partner_id=partner.pk) == 0
    topics = set(
        OutboxEvent.objects.filter(aggregate_id=str(order.pk)).values_list("topic", flat=True)
    )
    assert {"order.cancelled", "order.refunded"} <= topics
    assert Stock.objects.get(product=domestic_product).reserved == 0
    change = OrderStatusChange.objects.get(order=order, to_status="cancelled")
    assert change.actor_type == "partner"


def test_cancel_after_shipping_is_refused_and_changes_nothing(
    api_client, partner, rates, domestic_product
):
    client = api_client(partner)
    number = place(client, order_body((domestic_product, 1))).json()["number"]
    order = Order.objects.get(number=number)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.SHIPPED)
    before = snapshot(order)
    response = client.post(f"{ORDERS}{number}/cancel/", format="json", HTTP_IDEMPOTENCY_KEY=key())
    assert response.status_code == 409
    assert response.json()["code"] == "order_not_cancellable"
    assert snapshot(order) == before
    assert partner_credit_used(partner_id=partner.pk) == order.total_krw


def test_cancel_replay_returns_the_first_answer(api_client, partner, rates, domestic_product):
    client = api_client(partner)
    number = place(client, order_body((domestic_product, 1))).json()["number"]
    first = client.post(f"{ORDERS}{number}/cancel/", format="json", HTTP_IDEMPOTENCY_KEY="c1")
    again = client.post(f"{ORDERS}{number}/cancel/", format="json", HTTP_IDEMPOTENCY_KEY="c1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert Refund.objects.count() == 1


# --- shipments ---------------------------------------------------------------------------


def _ship(order: Order, tracking_number: str) -> Shipment:
    shipment = Shipment.objects.create(
        order=order,
        kind=Shipment.Kind.DOMESTIC,
        warehouse=WarehouseFactory(),
        carrier="cj",
        tracking_number=tracking_number,
        status=Shipment.Status.IN_TRANSIT,
        shipped_at=timezone.now(),
    )
    line = order.lines.first()
    ShipmentLine.objects.create(shipment=shipment, order_line=line, quantity=line.quantity)
    for index, code in enumerate(["picked_up", "in_transit"]):
        TrackingEvent.objects.create(
            shipment=shipment,
            external_id=f"{tracking_number}-{index}",
            code=code,
            occurred_at=timezone.now() + datetime.timedelta(minutes=index),
            location="Seoul",
        )
    return shipment


def test_shipments_lists_parcels_and_tracking_of_own_orders(
    api_client, partner, other_partner, rates, domestic_product
):
    client = api_client(partner)
    number = place(client, order_body((domestic_product, 2))).json()["number"]
    order = Order.objects.get(number=number)
    _ship(order, "CJ0001")
    theirs, _shoppers = _foreign_orders(other_partner)
    _ship(theirs, "CJ0002")

    response = client.get(f"{ORDERS}{number}/shipments/")
    assert response.status_code == 200
    [parcel] = response.json()
    assert (parcel["carrier"], parcel["tracking_number"], parcel["status"]) == (
        "cj",
        "CJ0001",
        "in_transit",
    )
    assert parcel["lines"] == [{"asin": domestic_product.asin, "quantity": 2}]
    assert [event["code"] for event in parcel["events"]] == ["picked_up", "in_transit"]
    assert client.get(f"{ORDERS}{theirs.number}/shipments/").status_code == 404


# --- query counts ------------------------------------------------------------------------


def _queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_list_retrieve_and_shipments_cost_constant_queries(api_client, partner, rates):
    client = api_client(partner)
    products = [StockFactory(on_hand=9).product for _ in range(3)]
    one = place(client, order_body((products[0], 1))).json()["number"]
    few = place(client, order_body(*[(p, 2) for p in products])).json()["number"]
    _ship(Order.objects.get(number=one), "CJ1")
    for index in range(3):
        _ship(Order.objects.get(number=few), f"CJ2{index}")

    single_list = _queries(client, f"{ORDERS}?limit=1")
    full_list = _queries(client, ORDERS)
    assert single_list == full_list
    for _ in range(3):
        place(client, order_body(*[(p, 1) for p in products]))
    assert _queries(client, ORDERS) == full_list
    assert _queries(client, f"{ORDERS}{one}/") == _queries(client, f"{ORDERS}{few}/")
    assert _queries(client, f"{ORDERS}{one}/shipments/") == _queries(
        client, f"{ORDERS}{few}/shipments/"
    )
