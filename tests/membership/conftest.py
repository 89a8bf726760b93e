"""Shared fixtures for membership tests: shoppers linked to the sandbox carrier's demo
members through the real one-time-code flow, and carts to check out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest

from membership.models import CarrierAccount
from membership.services.accounts import carrier_link_confirm, carrier_link_start
from orders.models import Cart, CartLine
from orders.services.checkout import ShippingAddress
from tests.factories import ExchangeRateFactory, StockFactory

CODE = "246810"
# Sandbox demo members (sandbox/README.md, carrier).
VIP = ("TM1000000001", "+821012345678")
GOLD = ("TM1000000002", "+821098765432")
SILVER = ("TM1000000003", "+821055550123")

HONG = ShippingAddress(
    recipient_name="홍길동",
    phone="+821012345678",
    postal_code="06236",
    road_address="서울특별시 강남구 테헤란로 152",
)


@pytest.fixture
def make_shopper(django_user_model) -> Callable:
    counter = iter(range(1, 10_000))

    def make(email: str | None = None):
        email = email or f"shopper{next(counter)}@example.com"
        return django_user_model.objects.create_user(email, email=email, password="x")

    return make


@pytest.fixture
def shopper(make_shopper):
    return make_shopper("hong@example.com")


@pytest.fixture
def link(carrier_points) -> Callable[..., CarrierAccount]:
    """``link(customer, member=VIP, balance=None)``: link through send-code → confirm, with
    the member's carrier balance set first when ``balance`` is given."""
    carrier_points.state("carrier", fixed_code=CODE)

    def do_link(customer, member=VIP, *, balance: int | None = None) -> CarrierAccount:
        member_ref, phone = member
        if balance is not None:
            carrier_points.state("carrier", members={member_ref: {"balance": balance}})
        challenge = carrier_link_start(customer_id=customer.pk, phone=phone)
        return carrier_link_confirm(
            customer_id=customer.pk, challenge_id=challenge.challenge_id, phone=phone, code=CODE
        )

    return do_link


@pytest.fixture
def rates():
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    ExchangeRateFactory(kind="customs", rate=Decimal("1390"))


@pytest.fixture
def product(rates):
    """In stock in Korea (no PCCC needed); USD 100.00 → ₩154,000 at the test rate/margin."""
    return StockFactory(on_hand=500, product__source_price_usd=Decimal("100.00")).product


@pytest.fixture
def cart_for() -> Callable[..., Cart]:
    def make(customer, product, quantity: int = 1) -> Cart:
        """The shopper's cart; further carts (one per concurrent checkout, as from several
        devices) are session carts, which ``order_place`` takes by id all the same."""
        if Cart.objects.filter(customer=customer).exists():
            cart = Cart.objects.create(session_key=uuid.uuid4().hex)
        else:
            cart = Cart.objects.create(customer=customer)
        CartLine.objects.create(cart=cart, product=product, quantity=quantity)
        return cart

    return make


@pytest.fixture(autouse=True)
def tier_rules(request):
    """The seeded tier rules for every database test here (tests/fixtures/core.py)."""
    if request.node.get_closest_marker("django_db"):
        request.getfixturevalue("membership_tier_rules")
