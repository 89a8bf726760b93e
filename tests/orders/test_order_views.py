"""Shopper pages for checkout and orders: login required, errors shown on the right field
with nothing placed, ownership (another shopper's order number is a 404 everywhere), the
order list's query count, and cancelling from the order page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Cart, CartLine, Order
from orders.services.checkout import ShippingAddress, order_place
from tests.factories import ExchangeRateFactory, OrderFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db

NEW_ADDRESS = {
    "address": "new",
    "new-recipient_name": "홍길동",
    "new-phone": "010-1234-5678",
    "new-postal_code": "06236",
    "new-road_address": "서울특별시 강남구 테헤란로 152",
    "new-detail_address": "101동 1001호",
    "save_address": "on",
}


@pytest.fixture
def shopper(client, django_user_model):
    user = django_user_model.objects.create_user("k@example.com", email="k@example.com")
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return user


@pytest.fixture
def rates():
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    ExchangeRateFactory(kind="customs", rate=Decimal("1390"))


def fill_cart(user, *lines) -> Cart:
    cart, _ = Cart.objects.get_or_create(customer=user)
    for product, quantity in lines:
        CartLine.objects.create(cart=cart, product=product, quantity=quantity)
    return cart


def test_checkout_requires_login(client):
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client, shopper):
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:cart")


def test_checkout_page_shows_the_split_and_the_quote(client, shopper, rates):
    domestic = StockFactory(on_hand=3).product
    us = ProductFactory(source_price_usd=Decimal("30.00"))
    fill_cart(shopper, (domestic, 1), (us, 1))
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 200
    quote = response.context["quote"]
    assert quote.has_domestic
    assert quote.has_cross_border
    body = response.content.decode()
    assert 'class="split split-domestic"' in body
    assert 'class="split split-cross-border"' in body
    assert 'name="pccc"' in body
    assert 'name="consent_transfer"' in body
    assert f'value="{quote.total_krw}"' in body  # the total the shopper confirms


def test_domestic_only_checkout_asks_no_pccc_and_places(client, shopper, rates, stripe_local):
    domestic = StockFactory(on_hand=3).product
    fill_cart(shopper, (domestic, 1))
    page = client.get(reverse("orders:checkout"))
    assert 'name="pccc"' not in page.content.decode()
    total = page.context["quote"].total_krw
    response = client.post(reverse("orders:checkout"), {**NEW_ADDRESS, "expected_total_krw": total})
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    assert order.total_krw == total
    assert order.payments.get().payment_intent_id
    assert shopper.addresses.count() == 1  # "save this address" is on by default


def test_missing_pccc_is_shown_on_the_field_and_nothing_is_placed(client, shopper, rates):
    us = ProductFactory(source_price_usd=Decimal("30.00"))
    fill_cart(shopper, (us, 1))
    total = client.get(reverse("orders:checkout")).context["quote"].total_krw
    response = client.post(reverse("orders:checkout"), {**NEW_ADDRESS, "expected_total_krw": total})
    assert response.status_code == 200
    assert set(response.context["customs_form"].errors) == {
        "pccc",
        "consent_collection",
        "consent_transfer",
    }
    assert Order.objects.count() == 0
    assert CartLine.objects.count() == 1


def test_bad_phone_is_shown_on_the_field(client, shopper, rates):
    fill_cart(shopper, (StockFactory(on_hand=3).product, 1))
    total = client.get(reverse("orders:checkout")).context["quote"].total_krw
    response = client.post(
        reverse("orders:checkout"),
        {**NEW_ADDRESS, "new-phone": "02-123-4567", "expected_total_krw": total},
    )
    assert response.status_code == 200
    assert response.context["address_form"].errors["phone"]
    assert Order.objects.count() == 0


def test_customs_down_tells_the_shopper_to_retry_and_places_nothing(
    client, shopper, rates, customs_check
):
    customs_check.faults("customs", fail_next=10)
    fill_cart(shopper, (ProductFactory(source_price_usd=Decimal("30.00")), 1))
    total = client.get(reverse("orders:checkout")).context["quote"].total_krw
    response = client.post(
        reverse("orders:checkout"),
        {
            **NEW_ADDRESS,
            "expected_total_krw": total,
            "pccc": "P100000000001",
            "consent_collection": "on",
            "consent_transfer": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["general_errors"]
    assert Order.objects.count() == 0
    assert CartLine.objects.count() == 1


def test_pccc_refusal_lands_on_the_recipient_field(client, shopper, rates, customs_check):
    fill_cart(shopper, (ProductFactory(source_price_usd=Decimal("30.00")), 1))
    total = client.get(reverse("orders:checkout")).context["quote"].total_krw
    response = client.post(
        reverse("orders:checkout"),
        {
            **NEW_ADDRESS,
            "new-recipient_name": "김철수",
            "expected_total_krw": total,
            "pccc": "P100000000001",
            "consent_collection": "on",
            "consent_transfer": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["address_form"].errors["recipient_name"]
    assert Order.objects.count() == 0


@pytest.fixture
def someone_elses_order(django_user_model):
    other = django_user_model.objects.create_user("o@example.com", email="o@example.com")
    return OrderFactory(customer=other)


@pytest.mark.parametrize(
    ("name", "method"),
    [("detail", "get"), ("status", "get"), ("pay", "get"), ("cancel", "post")],
)
def test_another_shoppers_order_is_a_404_and_unchanged(
    client, shopper, someone_elses_order, name, method
):
    url = reverse(f"orders:{name}", args=[someone_elses_order.number])
    response = getattr(client, method)(url)
    assert response.status_code == 404
    someone_elses_order.refresh_from_db()
    assert someone_elses_order.status == "pending_payment"
    assert not someone_elses_order.status_changes.exists()


def test_order_list_query_count_does_not_grow(client, shopper):
    OrderFactory(customer=shopper)
    client.get(reverse("orders:list"))  # warm the session and cache
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("orders:list")).status_code == 200
    for _ in range(9):
        OrderFactory(customer=shopper)
    with CaptureQueriesContext(connection) as ten:
        response = client.get(reverse("orders:list"))
    assert len(response.context["page"].object_list) == 10
    assert len(ten) == len(one)


def test_order_detail_shows_masked_pccc_and_the_timeline(client, shopper, rates, customs_check):
    us = ProductFactory(source_price_usd=Decimal("30.00"))
    cart = fill_cart(shopper, (us, 1))
    from orders.services.checkout import CustomsDeclaration

    order = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=ShippingAddress(
            recipient_name="홍길동",
            phone="+821012345678",
            postal_code="06236",
            road_address="서울특별시 강남구 테헤란로 152",
        ),
        customs=CustomsDeclaration(
            pccc="P100000000001", consent_collection=True, consent_transfer=True
        ),
    )
    body = client.get(order.get_absolute_url()).content.decode()
    assert "P••••••••0001" in body
    assert "P100000000001" not in body
    assert "010-1234-5678" in body
    assert 'data-status="pending_payment"' in body


def test_cancel_from_the_order_page(client, shopper, rates, stripe_local):
    fill_cart(shopper, (StockFactory(on_hand=3).product, 1))
    total = client.get(reverse("orders:checkout")).context["quote"].total_krw
    client.post(reverse("orders:checkout"), {**NEW_ADDRESS, "expected_total_krw": total})
    order = Order.objects.get()
    response = client.post(reverse("orders:cancel", args=[order.number]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.status_changes.last().actor_id == shopper.pk
    assert order.payments.get().status == "cancelled"
