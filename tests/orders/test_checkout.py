"""Placing an order (orders.services.checkout.order_place): the server prices the reserved
split, verifies the PCCC with customs when something ships cross-border, freezes everything
and empties the cart; every refusal leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfillment.models import Reservation, Stock
from orders import pccc
from orders.customs_client import CustomsCheckUnavailable
from orders.models import Cart, CartLine, CustomsProfile, Order, OrderStatusChange, Payment
from orders.services.checkout import (
    CheckoutRefused,
    CustomsDeclaration,
    PcccRejected,
    PcccRequired,
    QuoteChanged,
    ShippingAddress,
    checkout_quote,
    order_place,
)
from storefront.models import OutboxEvent
from tests.factories import ExchangeRateFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
    detail_address="101동 1001호",
)
HONG_PCCC = "P100000000001"


def declaration(value: str = HONG_PCCC, **overrides) -> CustomsDeclaration:
    return CustomsDeclaration(
        pccc=value,
        consent_collection=overrides.get("consent_collection", True),
        consent_transfer=overrides.get("consent_transfer", True),
    )


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
def domestic_product():
    stock = StockFactory(on_hand=5, product__source_price_usd=Decimal("25.00"))
    return stock.product


@pytest.fixture
def us_product():
    return ProductFactory(source_price_usd=Decimal("30.00"), weight_kg=Decimal("0.800"))


def cart_with(shopper, *lines) -> Cart:
    cart = Cart.objects.create(customer=shopper)
    for product, quantity in lines:
        CartLine.objects.create(cart=cart, product=product, quantity=quantity)
    return cart


def nothing_placed(cart: Cart, lines: int) -> None:
    assert Order.objects.count() == 0
    assert Payment.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert not OutboxEvent.objects.filter(topic="order.placed").exists()
    assert Stock.objects.filter(reserved__gt=0).count() == 0
    assert cart.lines.count() == lines


def test_domestic_only_order_is_placed_frozen_and_reserved(shopper, rates, domestic_product):
    cart = cart_with(shopper, (domestic_product, 2))
    quote = checkout_quote(cart_id=cart.pk)
    order = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=None,
        expected_total_krw=quote.total_krw,
    )
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.number.startswith("GS")
    assert len(order.number) == 15
    assert order.total_krw == quote.total_krw
    assert order.has_cross_border is False
    assert order.pccc_encrypted == ""
    assert (order.fx_selling_rate, order.fx_customs_rate) == (Decimal("1400"), Decimal("1390"))
    line = order.lines.get()
    assert (line.quantity, line.domestic_quantity, line.cross_border_quantity) == (2, 2, 0)
    assert line.unit_price_krw == 38500  # 25 × 1400 × 1.1
    assert Stock.objects.get(product=domestic_product).reserved == 2
    assert Reservation.objects.get(order=order).expires_at == order.payment_due_at
    payment = Payment.objects.get(order=order)
    assert payment.amount_krw == order.total_krw
    assert payment.idempotency_key
    assert payment.payment_intent_id is None  # created after commit by payment_intent_ensure
    assert OrderStatusChange.objects.get(order=order).to_status == "pending_payment"
    assert OutboxEvent.objects.get(topic="order.placed").payload["number"] == order.number
    assert cart.lines.count() == 0
    assert (order.recipient_name, order.detail_address) == ("홍길동", "101동 1001호")


def test_cross_border_without_pccc_places_nothing(shopper, rates, us_product):
    cart = cart_with(shopper, (us_product, 1))
    with pytest.raises(PcccRequired) as raised:
        order_place(
            customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
        )
    assert "pccc" in raised.value.fields
    nothing_placed(cart, 1)


def test_consents_are_required(shopper, rates, us_product, customs_check):
    cart = cart_with(shopper, (us_product, 1))
    with pytest.raises(PcccRequired) as raised:
        order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart.pk,
            address=HONG,
            customs=declaration(consent_transfer=False),
        )
    assert set(raised.value.fields) == {"consent_transfer"}
    nothing_placed(cart, 1)


def test_customs_refusal_lands_on_the_field_and_places_nothing(
    shopper, rates, us_product, customs_check
):
    cart = cart_with(shopper, (us_product, 1))
    wrong_name = ShippingAddress(**{**HONG.__dict__, "recipient_name": "김철수"})
    with pytest.raises(PcccRejected) as raised:
        order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart.pk,
            address=wrong_name,
            customs=declaration(),
        )
    assert "recipient_name" in raised.value.fields
    nothing_placed(cart, 1)


def test_customs_service_down_places_nothing(shopper, rates, us_product, customs_check):
    customs_check.faults("customs", fail_next=10)
    cart = cart_with(shopper, (us_product, 1))
    with pytest.raises(CustomsCheckUnavailable):
        order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart.pk,
            address=HONG,
            customs=declaration(),
        )
    nothing_placed(cart, 1)


def test_cross_border_order_stores_the_pccc_encrypted_and_the_profile(
    shopper, rates, us_product, domestic_product, customs_check
):
    cart = cart_with(shopper, (us_product, 1), (domestic_product, 1))
    order = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=declaration(" p1000-0000-0001 "),
    )
    assert order.has_cross_border is True
    assert order.pccc_last4 == "0001"
    assert order.customs_consent_at is not None
    assert HONG_PCCC not in order.pccc_encrypted
    assert pccc.pccc_decrypt(order.pccc_encrypted) == HONG_PCCC
    profile = CustomsProfile.objects.get(customer=shopper)
    assert pccc.pccc_decrypt(profile.pccc_encrypted) == HONG_PCCC
    assert profile.verified_postal_code == "06236"
    lines = {line.product_id: line for line in order.lines.all()}
    assert lines[us_product.pk].cross_border_quantity == 1
    assert lines[domestic_product.pk].domestic_quantity == 1
    # ₩46,200 + ₩38,500 of items: over the free-shipping threshold, so both legs are free.
    assert order.items_krw == 84700
    assert (order.domestic_shipping_krw, order.cross_border_shipping_krw) == (0, 0)


def test_saved_pccc_is_reused(shopper, rates, us_product, customs_check):
    order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart_with(shopper, (us_product, 1)).pk,
        address=HONG,
        customs=declaration(),
    )
    cart = Cart.objects.get(customer=shopper)
    CartLine.objects.create(cart=cart, product=us_product, quantity=1)
    order = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=CustomsDeclaration(
            pccc="", use_saved=True, consent_collection=True, consent_transfer=True
        ),
    )
    assert pccc.pccc_decrypt(order.pccc_encrypted) == HONG_PCCC


def test_a_total_the_shopper_did_not_see_places_nothing(shopper, rates, domestic_product):
    cart = cart_with(shopper, (domestic_product, 1))
    quote = checkout_quote(cart_id=cart.pk)
    with pytest.raises(QuoteChanged):
        order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart.pk,
            address=HONG,
            customs=None,
            expected_total_krw=quote.total_krw - 1000,
        )
    nothing_placed(cart, 1)


def test_the_price_comes_from_the_server(shopper, rates, domestic_product):
    cart = cart_with(shopper, (domestic_product, 1))
    quote = checkout_quote(cart_id=cart.pk)
    ExchangeRateFactory(kind="selling", rate=Decimal("1500"))
    from catalog.selectors import fx_cache_clear

    fx_cache_clear()
    with pytest.raises(QuoteChanged):
        order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart.pk,
            address=HONG,
            customs=None,
            expected_total_krw=quote.total_krw,
        )
    nothing_placed(cart, 1)


def test_unavailable_product_or_empty_cart_is_refused(shopper, rates, domestic_product):
    cart = cart_with(shopper)
    with pytest.raises(CheckoutRefused) as raised:
        order_place(
            customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
        )
    assert raised.value.code == "cart_empty"
    CartLine.objects.create(cart=cart, product=domestic_product, quantity=1)
    domestic_product.is_active = False
    domestic_product.save(update_fields=["is_active"])
    with pytest.raises(CheckoutRefused) as raised:
        order_place(
            customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
        )
    assert raised.value.code == "product_unavailable"
    nothing_placed(cart, 1)


def _preview_as(monkeypatch, domestic: dict[int, int]) -> None:
    """Make the preview (before the transaction) see ``domestic`` units per product
    instead of what stock holds: as if stock changed between the preview and the
    reservation."""
    from orders.services import checkout

    real = checkout._checkout_lines_previewed

    def previewed(*, cart_id):
        lines, _preview = real(cart_id=cart_id)
        return lines, {
            line.product.pk: (domestic[line.product.pk], line.quantity - domestic[line.product.pk])
            for line in lines
        }

    monkeypatch.setattr(checkout, "_checkout_lines_previewed", previewed)


def test_units_gone_after_the_preview_are_priced_cross_border(
    monkeypatch, shopper, rates, us_product, domestic_product, customs_check
):
    # The preview saw domestic stock for both; only the domestic product really has it.
    cart = cart_with(shopper, (us_product, 1), (domestic_product, 1))
    _preview_as(monkeypatch, {us_product.pk: 1, domestic_product.pk: 1})
    order = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=declaration(),
    )
    order.refresh_from_db()
    lines = {line.product_id: line for line in order.lines.all()}
    assert lines[us_product.pk].cross_border_quantity == 1
    assert lines[domestic_product.pk].domestic_quantity == 1
    assert order.has_cross_border is True
    assert pccc.pccc_decrypt(order.pccc_encrypted) == HONG_PCCC
    assert order.pccc_last4 == "0001"
    assert order.customs_consent_at is not None
    assert order.items_krw == 84700
    assert order.total_krw == sum(line.line_total_krw for line in lines.values()) + (
        order.domestic_shipping_krw
        + order.cross_border_shipping_krw
        + order.duty_krw
        + order.vat_krw
        - order.discount_krw
    )


def test_units_freed_after_the_preview_are_priced_domestic(
    monkeypatch, shopper, rates, domestic_product, customs_check
):
    # The preview saw no domestic stock (cross-border, PCCC given); the reservation holds it.
    cart = cart_with(shopper, (domestic_product, 1))
    _preview_as(monkeypatch, {domestic_product.pk: 0})
    order = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=declaration(),
    )
    order.refresh_from_db()
    line = order.lines.get()
    assert (line.domestic_quantity, line.cross_border_quantity) == (1, 0)
    assert order.has_cross_border is False
    assert (order.pccc_encrypted, order.pccc_last4, order.customs_consent_at) == ("", "", None)
    assert (order.duty_krw, order.vat_krw, order.cross_border_shipping_krw) == (0, 0, 0)
    assert order.items_krw == 38500
    assert order.total_krw == 38500 + order.domestic_shipping_krw
    assert Payment.objects.get(order=order).amount_krw == order.total_krw


def test_a_taken_order_number_is_replaced_by_a_new_one(
    monkeypatch, shopper, rates, domestic_product
):
    from orders.services import checkout

    cart = cart_with(shopper, (domestic_product, 1))
    first = order_place(
        customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
    )
    CartLine.objects.create(cart=cart, product=domestic_product, quantity=1)
    numbers = iter([first.number, "GS991231-NEW234"])
    monkeypatch.setattr(checkout, "_new_order_number", lambda now: next(numbers))
    second = order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=None,
    )
    assert second.number == "GS991231-NEW234"
    assert Order.objects.count() == 2


def _cart_changes_after_the_read(monkeypatch, change) -> None:
    """Run ``change`` right after checkout read the cart's lines (before the cart lock):
    the shopper editing the cart in another tab while the order is being placed."""
    from orders.services import checkout

    real = checkout._checkout_lines_previewed

    def previewed(*, cart_id):
        read = real(cart_id=cart_id)
        change()
        return read

    monkeypatch.setattr(checkout, "_checkout_lines_previewed", previewed)


@pytest.mark.parametrize("edit", ["line added", "quantity changed", "line removed"])
def test_a_cart_edited_while_placing_places_nothing_and_keeps_the_edit(
    monkeypatch, shopper, rates, domestic_product, edit
):
    """Before, the lines read were ordered and then every line of the cart deleted: a line
    added in another tab in between was lost without being ordered."""
    other = StockFactory(on_hand=5, product__source_price_usd=Decimal("10.00")).product
    cart = cart_with(shopper, (domestic_product, 1), (other, 1))

    def change():
        if edit == "line added":
            CartLine.objects.create(cart=cart, product=ProductFactory(), quantity=2)
        elif edit == "quantity changed":
            CartLine.objects.filter(cart=cart, product=other).update(quantity=3)
        else:
            CartLine.objects.filter(cart=cart, product=other).delete()

    _cart_changes_after_the_read(monkeypatch, change)
    with pytest.raises(QuoteChanged) as refused:
        order_place(customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG,
                    customs=None)  # fmt: skip
    assert refused.value.code == "cart_changed"
    assert refused.value.message.startswith("결제하시는 동안 장바구니가 바뀌었습니다.")
    nothing_placed(cart, {"line added": 3, "quantity changed": 2, "line removed": 1}[edit])
    if edit == "quantity changed":
        assert CartLine.objects.get(cart=cart, product=other).quantity == 3


def test_a_cart_left_alone_while_placing_is_ordered_and_emptied(
    monkeypatch, shopper, rates, domestic_product
):
    cart = cart_with(shopper, (domestic_product, 2))
    _cart_changes_after_the_read(monkeypatch, lambda: None)
    order = order_place(
        customer_id=shopper.pk, email=shopper.email, cart_id=cart.pk, address=HONG, customs=None
    )
    assert [(line.product_id, line.quantity) for line in order.lines.all()] == [
        (domestic_product.pk, 2)
    ]
    assert cart.lines.count() == 0
