"""A shopper uses carrier membership points in Chromium: links the membership with the
one-time code the carrier texts, sees the discount at checkout (and the total move with the
box), pays with localstripe's card Element, and finds the points in the history.

Everything runs over HTTP: the live server, the sandbox carrier (its "SMS" is read from the
sandbox's state, as the shopper would read their phone) and localstripe with its webhook.
Selectors are ids, names and classes, never translated text.
Screenshots: test-artifacts/e2e-points-*.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from catalog.models import ExchangeRate
from catalog.pricing import shelf_price_krw
from membership.models import PointHold
from membership.selectors import points_offer
from orders.models import Order
from orders.services.addresses import address_create
from storefront.events import event_deliver
from storefront.models import OutboxEvent
from tests.factories import ExchangeRateFactory, StockFactory

from .test_purchase import (
    CARD_OK,
    PASSWORD,
    PAY_URL,
    add_to_cart,
    expect_paid,
    order_number_from,
    pay_with_card,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIP_PHONE = "010-1234-5678"  # the sandbox carrier's demo VIP member, 80,000 points


def shot(page: Page, artifacts_dir, name: str) -> None:
    page.screenshot(path=artifacts_dir / f"e2e-points-{name}.png", full_page=True)


def won(amount: int) -> str:
    return f"₩{amount:,}"


@pytest.fixture
def shop(
    live_server,
    settings,
    stripe_local,
    stripe_webhook_register,
    carrier_points,
    membership_tier_rules,
):
    settings.PRICE_MARGIN = Decimal("0.10")
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1390"))
    stripe_webhook_register(f"{live_server.url}/payments/stripe/webhook/")
    product = StockFactory(
        on_hand=5,
        product__asin="B0E2EPTS01",
        product__title="Noise Cancelling Headphones",
        product__source_price_usd=Decimal("180.00"),
    ).product
    return {"product": product, "carrier": carrier_points}


def test_link_membership_use_points_at_checkout_and_see_them_in_the_history(
    page, shop, artifacts_dir, django_user_model
):
    product, carrier = shop["product"], shop["carrier"]
    shopper = django_user_model.objects.create_user(
        "hong@example.com", email="hong@example.com", password=PASSWORD
    )
    address_create(
        customer=shopper,
        recipient_name="홍길동",
        phone=VIP_PHONE,
        postal_code="06236",
        road_address="서울특별시 강남구 테헤란로 152",
        make_default=True,
    )
    page.goto("/account/login/?next=/account/membership/")
    page.locator("#id_email").fill("hong@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.locator(".account-form button[type=submit]").click()
    page.wait_for_url("**/account/membership/")

    # Link: phone → the code the carrier texted → linked, with tier and balance
    page.locator("#id_phone").fill(VIP_PHONE)
    page.locator(".membership-link form.account-form button[type=submit]").click()
    expect(page.locator("#id_code")).to_be_visible()
    code = carrier.state("carrier")["sms"][-1]["code"]
    page.locator("#id_code").fill(code)
    shot(page, artifacts_dir, "1-code")
    page.locator(".membership-link form.account-form button[type=submit]").click()
    expect(page.locator(".membership-tier")).to_have_text("VIP")
    expect(page.locator(".membership-usable")).to_contain_text("80,000")
    expect(page.locator(".membership-phone")).not_to_contain_text("1234-5678")
    shot(page, artifacts_dir, "2-linked")

    # Checkout: the discount is offered, ticked, and the totals follow the box
    add_to_cart(page, product)
    page.goto("/checkout/")
    discount = points_offer(customer_id=shopper.pk, merchandise_krw=product_price(product)).points
    assert discount > 0
    box = page.locator("input[name=use_points]")
    expect(box).to_be_checked()
    expect(page.locator("[data-amount=discount]")).to_have_text(f"−{won(discount)}")
    with_points = page.locator("[data-amount=total]").inner_text()
    shot(page, artifacts_dir, "3-checkout")
    box.uncheck()
    expect(page.locator("[data-amount=discount]")).to_have_text(won(0))
    without_points = page.locator("[data-amount=total]").inner_text()
    assert amount(without_points) - amount(with_points) == discount
    expect(page.locator("#place-order")).to_contain_text(without_points)
    box.check()
    expect(page.locator("[data-amount=total]")).to_have_text(with_points)
    expect(page.locator("#place-order")).to_contain_text(with_points)

    # Pay: the card pays the discounted total
    page.locator("#place-order").click()
    page.wait_for_url(PAY_URL)
    number = order_number_from(page)
    order = Order.objects.get(number=number)
    assert order.discount_krw == discount
    assert order.total_krw == amount(with_points)
    assert PointHold.objects.get(order=order).status == "held"
    pay_with_card(page, CARD_OK)
    expect_paid(page, number)

    # The worker's part, done here: the order.paid event captures the points
    for event in OutboxEvent.objects.filter(topic="order.paid", aggregate_id=str(order.pk)):
        event_deliver(event_id=event.pk)
    assert PointHold.objects.get(order=order).status == "captured"

    # History: held, then used for this order; the balance is down by the discount
    page.goto("/account/membership/")
    expect(page.locator(".membership-usable")).to_contain_text(f"{80_000 - discount:,}")
    history = page.locator(".membership-history")
    expect(history.locator("tr.entry-hold")).to_contain_text(f"-{discount:,}")
    expect(history.locator("tr.entry-capture")).to_contain_text(number)
    expect(history.locator(f"a[href='/orders/{number}/']").first).to_be_visible()
    shot(page, artifacts_dir, "4-history")
    member = carrier.state("carrier")["members"]["TM1000000001"]
    assert (member["balance"], member["held"]) == (80_000 - discount, 0)


def product_price(product) -> int:
    """The shelf price at the rate the shop fixture published."""
    return shelf_price_krw(source_price_usd=product.source_price_usd, fx_rate=Decimal("1400"))


def amount(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))
