"""POST /api/v1/quotes/: the partner's quote is the storefront checkout's quote for the same
cart (same code, same numbers), names every bad line, and writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Cart, CartLine
from orders.services.checkout import checkout_quote
from tests.factories import (
    CustomsClassFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/quotes/"


@pytest.fixture
def rates():
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    ExchangeRateFactory(kind="customs", rate=Decimal("1390"))


@pytest.fixture
def domestic_product():
    return StockFactory(on_hand=5, product__source_price_usd=Decimal("25.00")).product


@pytest.fixture
def expensive_us_product():
    """USD 260 from the US: over the duty-free limit, so duty and VAT are due."""
    return ProductFactory(source_price_usd=Decimal("260.00"), weight_kg=Decimal("1.200"))


@pytest.fixture
def half_domestic_product():
    """2 units in Korea: a quantity of 3 splits 2 domestic + 1 cross-border."""
    return StockFactory(on_hand=2, product__source_price_usd=Decimal("12.00")).product


def _storefront_quote(django_user_model, lines):
    shopper = django_user_model.objects.create_user("s@example.com", email="s@example.com")
    cart = Cart.objects.create(customer=shopper)
    for product, quantity in lines:
        CartLine.objects.create(cart=cart, product=product, quantity=quantity)
    return checkout_quote(cart_id=cart.pk)


def test_api_quote_equals_the_storefront_checkout_quote_with_duty_and_vat(
    api_client,
    partner,
    rates,
    domestic_product,
    expensive_us_product,
    half_domestic_product,
    django_user_model,
):
    lines = [(domestic_product, 2), (expensive_us_product, 1), (half_domestic_product, 3)]
    response = api_client(partner).post(
        URL,
        {
            "lines": [{"asin": p.asin, "quantity": q} for p, q in lines],
            "postal_code": "06236",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    expected = _storefront_quote(django_user_model, lines)

    # The cross-border part is over the duty-free limit: this line really carries fees.
    assert expected.customs.duty_free is False
    assert expected.duty_krw > 0
    assert expected.vat_krw > 0
    for key in (
        "items_krw",
        "domestic_items_krw",
        "cross_border_items_krw",
        "domestic_shipping_krw",
        "cross_border_shipping_krw",
        "shipping_krw",
        "duty_krw",
        "vat_krw",
        "import_fees_krw",
        "discount_krw",
        "total_krw",
        "has_cross_border",
    ):
        assert body[key] == getattr(expected, key), key
    assert body["customs"]["duty_free"] is False
    assert Decimal(body["customs"]["goods_value_usd"]) == expected.customs.goods_value_usd
    assert Decimal(body["fx_selling_rate"]) == expected.fx_selling_rate
    assert Decimal(body["fx_customs_rate"]) == expected.fx_customs_rate
    assert body["postal_code"] == "06236"
    got_lines = [
        (
            line["asin"],
            line["quantity"],
            line["domestic_quantity"],
            line["cross_border_quantity"],
            line["unit_price_krw"],
            line["line_total_krw"],
            line["duty_krw"],
            line["vat_krw"],
        )
        for line in body["lines"]
    ]
    want_lines = [
        (
            line.asin,
            line.quantity,
            line.domestic_quantity,
            line.cross_border_quantity,
            line.unit_price_krw,
            line.line_total_krw,
            line.duty_krw,
            line.vat_krw,
        )
        for line in expected.lines
    ]
    assert sorted(got_lines) == sorted(want_lines)
    # The split by delivery promise: 2 from Korea (1–2 days) and 1 from the US (6–10).
    split = next(line for line in body["lines"] if line["asin"] == half_domestic_product.asin)
    assert [
        (d["kind"], d["quantity"], d["min_days"], d["max_days"]) for d in split["delivery"]
    ] == [
        ("domestic", 2, 1, 2),
        ("cross_border", 1, 6, 10),
    ]


def test_quote_writes_nothing(api_client, partner, rates, domestic_product):
    response = api_client(partner).post(
        URL, {"lines": [{"asin": domestic_product.asin, "quantity": 1}]}, format="json"
    )
    assert response.status_code == 200
    assert Cart.objects.count() == 0
    assert CartLine.objects.count() == 0


def test_every_bad_line_is_named(api_client, partner, rates, domestic_product):
    inactive = ProductFactory(is_active=False)
    response = api_client(partner).post(
        URL,
        {
            "lines": [
                {"asin": domestic_product.asin, "quantity": 1},
                {"asin": "B000NOSUCH", "quantity": 1},
                {"asin": inactive.asin, "quantity": 1},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"lines[1].asin", "lines[2].asin"}


def test_shape_errors_name_every_field(api_client, partner, rates):
    response = api_client(partner).post(
        URL,
        {"lines": [{"asin": "B000000001", "quantity": 0}, {"quantity": 1}], "postal_code": "12"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "lines[0].quantity",
        "lines[1].asin",
        "postal_code",
    }


def test_personal_use_limit_is_refused_on_the_line(api_client, partner, rates):
    supplements = CustomsClassFactory(code="supplements_test", max_quantity_per_order=6)
    product = ProductFactory(customs_class=supplements)
    response = api_client(partner).post(
        URL, {"lines": [{"asin": product.asin, "quantity": 7}]}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"lines[0].quantity"}
    assert Cart.objects.count() == 0


def test_quote_needs_the_quotes_scope(api_client, partner, rates, domestic_product):
    client = api_client(partner, scopes=["catalog:read", "orders:read", "orders:write"])
    response = client.post(
        URL, {"lines": [{"asin": domestic_product.asin, "quantity": 1}]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"
