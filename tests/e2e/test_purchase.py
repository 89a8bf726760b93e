"""A shopper buys in Chromium, end to end: cart, sign-up on the way to checkout, address and
customs declaration, the landed-cost quote, the card Element of localstripe's fake Stripe.js,
and the order page that waits for the payment webhook.

Everything runs for real over HTTP: pytest-django's live server, localstripe
(sandbox/stripe_local.py) sending its signed webhooks to that server, and the sandbox's
customs PCCC check with its demo registrations (sandbox/README.md). Selectors are ids,
names and data- attributes, never translated text. Screenshots: test-artifacts/e2e-purchase-*.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from catalog.models import ExchangeRate
from fulfillment.models import Reservation
from orders import pccc
from orders.models import Order, Payment
from orders.payment_messages import PAYMENT_ERROR_MESSAGES
from orders.services.addresses import address_create
from tests.factories import ExchangeRateFactory, ProductFactory, StockFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HONG = {
    "recipient_name": "홍길동",
    "phone": "010-1234-5678",
    "postal_code": "06236",
    "road_address": "서울특별시 강남구 테헤란로 152",
    "detail_address": "101동 1001호",
}
HONG_PCCC = "P100000000001"  # the sandbox's demo registration for 홍길동
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
PASSWORD = "Kimchi-Jjigae-2025!"
PAID_WITHIN_MS = 20_000  # the webhook comes ~1 s after the card is confirmed
PAY_URL = re.compile(r"/orders/(?P<number>[^/]+)/pay/$")


@pytest.fixture
def shop(live_server, settings, stripe_local, stripe_webhook_register, customs_check):
    """Rates, a product in the Korean warehouse and one that ships from the US; localstripe
    posts its events to the live server's webhook."""
    settings.PRICE_MARGIN = Decimal("0.10")
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1390"))
    domestic = StockFactory(
        on_hand=5,
        product__asin="B0E2EDOM01",
        product__title="Stainless Steel Water Bottle, 750 ml",
        product__source_price_usd=Decimal("25.00"),
    ).product
    # Over the USD 200 duty-free limit (list clearance), so the quote has import fees.
    cross_border = ProductFactory(
        asin="B0E2EUSA01",
        title="Espresso Machine with Milk Frother",
        source_price_usd=Decimal("250.00"),
        weight_kg=Decimal("4.000"),
    )
    stripe_webhook_register(f"{live_server.url}/payments/stripe/webhook/")
    return {"domestic": domestic, "cross_border": cross_border}


def shot(page: Page, artifacts_dir, name: str) -> None:
    page.screenshot(path=artifacts_dir / f"e2e-purchase-{name}.png", full_page=True)


def on_a_phone(page: Page, artifacts_dir, name: str) -> None:
    """Nothing overflows sideways on a phone-sized screen (then back to the desktop size)."""
    desktop = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, artifacts_dir, name)
    finally:
        page.set_viewport_size(desktop)


def add_to_cart(page: Page, product) -> None:
    page.goto(product.get_absolute_url())
    page.locator("form.add-to-cart button[type=submit]").click()
    page.wait_for_url(f"**{product.get_absolute_url()}")
    expect(page.locator(".message-success")).to_be_visible()


def pay_with_card(page: Page, number: str) -> None:
    """Fill localstripe's card Element (plain inputs named by their placeholders) and pay."""
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("12345")
    page.locator("#pay-button").click()


def order_number_from(page: Page) -> str:
    match = PAY_URL.search(page.url)
    assert match, page.url
    return match["number"]


def wait_until(check: Callable[[], bool], *, seconds: float = 20.0) -> None:
    """Poll the database (the live server commits on other threads) until ``check``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {seconds} s: {check.__doc__ or check}")
        time.sleep(0.2)


def expect_paid(page: Page, number: str) -> None:
    """The order page, which polls its status until the webhook has marked it paid."""
    page.wait_for_url(re.compile(rf"/orders/{number}/(\?payment=submitted)?$"))
    expect(page.locator(".order-status")).to_have_attribute(
        "data-status", "paid", timeout=PAID_WITHIN_MS
    )
    expect(page.locator("#order-status")).to_have_class(re.compile(r"\bstatus-paid\b"))
    expect(page.locator(".order-status [data-status-url]")).to_have_count(0)


def test_anonymous_shopper_buys_domestic_and_cross_border_items(page, shop, artifacts_dir):
    domestic, cross_border = shop["domestic"], shop["cross_border"]

    # Given an anonymous shopper with one item from the Korean warehouse and one from the US
    add_to_cart(page, domestic)
    add_to_cart(page, cross_border)
    expect(page.locator(".cart-link .cart-count")).to_have_text("2")
    shot(page, artifacts_dir, "1-product")

    page.locator(".cart-link").click()
    page.wait_for_url("**/cart/")
    expect(page.locator(".cart-line")).to_have_count(2)
    shot(page, artifacts_dir, "2-cart")

    # When they go to checkout they must log in, and sign up from there
    page.locator(".cart-summary a[href='/checkout/']").click()
    page.wait_for_url(re.compile(r"/account/login/\?next=(/|%2F)checkout(/|%2F)$"))
    page.locator(".account-switch a[href^='/account/signup/']").click()
    page.wait_for_url(re.compile(r"/account/signup/\?next="))
    page.locator("#id_email").fill("hong@example.com")
    page.locator("#id_name").fill("홍길동")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator(".account-form button[type=submit]").click()

    # ... and land back on checkout, their cart still there
    page.wait_for_url("**/checkout/")
    expect(page.locator(".cart-link .cart-count")).to_have_text("2")
    # No saved address yet: "a new address" is chosen and its fields are shown
    expect(page.locator("input[name=address][value=new]")).to_be_checked()
    expect(page.locator("#new-address")).to_be_visible()
    page.locator("input[name=address][value=new]").check()
    for field, value in HONG.items():
        page.locator(f"[name='new-{field}']").fill(value)
    page.locator("[name=pccc]").fill(HONG_PCCC)
    page.locator("[name=consent_collection]").check()
    page.locator("[name=consent_transfer]").check()

    # The quote: both halves of the split, shipping, import fees and the total
    expect(page.locator(".split-domestic li")).to_have_count(1)
    expect(page.locator(".split-domestic")).to_contain_text(domestic.title)
    expect(page.locator(".split-cross-border li")).to_have_count(1)
    expect(page.locator(".split-cross-border")).to_contain_text(cross_border.title)
    quote = page.locator("dl.quote")
    for amount in ("items", "domestic-shipping", "cross-border-shipping", "import-fees", "total"):
        expect(quote.locator(f"[data-amount={amount}]")).to_be_visible()
    expect(quote.locator("[data-amount=import-fees]")).to_have_text(re.compile(r"^₩[1-9][\d,]*$"))
    shown_total = quote.locator("[data-amount=total]").inner_text()
    shot(page, artifacts_dir, "3-checkout")
    on_a_phone(page, artifacts_dir, "3-checkout-mobile")

    page.locator("#place-order").click()
    page.wait_for_url(PAY_URL)
    number = order_number_from(page)
    expect(page.locator(".pay-total")).to_have_text(shown_total)
    expect(page.locator("#card-element input[placeholder=number]")).to_be_visible()
    expect(page.locator(".cart-link .cart-count")).to_have_text("0")
    shot(page, artifacts_dir, "4-pay")

    # Then paying with a good card leads to the order page, which turns paid
    pay_with_card(page, CARD_OK)
    expect_paid(page, number)
    shot(page, artifacts_dir, "5-paid")
    on_a_phone(page, artifacts_dir, "5-paid-mobile")

    order = Order.objects.get(number=number)
    assert order.status == Order.Status.PAID
    assert order.customer.email == "hong@example.com"
    assert f"₩{order.total_krw:,}" == shown_total
    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_krw == order.total_krw
    assert payment.captured_krw == order.total_krw
    assert order.import_fees_krw > 0
    # The PCCC is kept encrypted; only its last four digits are in clear
    assert HONG_PCCC not in order.pccc_encrypted
    assert pccc.pccc_decrypt(order.pccc_encrypted) == HONG_PCCC
    assert order.pccc_last4 == HONG_PCCC[-4:]
    assert order.customs_consent_at is not None
    # The domestic unit is held in the warehouse; the US item reserves nothing
    reservations = list(Reservation.objects.filter(order=order))
    assert [(r.product_id, r.quantity) for r in reservations] == [(domestic.pk, 1)]
    split = {
        line.product_id: (line.domestic_quantity, line.cross_border_quantity)
        for line in order.lines.all()
    }
    assert split == {domestic.pk: (1, 0), cross_border.pk: (0, 1)}


def test_declined_card_shows_the_error_and_the_order_stays_payable(
    page, shop, artifacts_dir, django_user_model
):
    domestic = shop["domestic"]
    shopper = django_user_model.objects.create_user(
        "kim@example.com", email="kim@example.com", password=PASSWORD
    )
    address_create(
        customer=shopper,
        recipient_name="김민지",
        phone="010-9876-5432",
        postal_code="04524",
        road_address="서울특별시 중구 세종대로 110",
        make_default=True,
    )

    # Given a logged-in shopper with a domestic item and a saved address
    page.goto(f"/account/login/?next={domestic.get_absolute_url()}")
    page.locator("#id_email").fill("kim@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.locator(".account-form button[type=submit]").click()
    page.wait_for_url(f"**{domestic.get_absolute_url()}")
    add_to_cart(page, domestic)

    page.goto("/checkout/")
    # The saved default address is chosen, so the new-address fields are out of the way
    saved = page.locator("input[name=address]:not([value=new])")
    new_address = page.locator("#new-address")
    expect(saved).to_be_checked()
    expect(new_address).to_be_hidden()
    page.locator("input[name=address][value=new]").check()
    expect(new_address).to_be_visible()
    expect(page.locator("[name='new-recipient_name']")).to_be_editable()
    saved.check()
    expect(new_address).to_be_hidden()
    expect(page.locator(".customs")).to_have_count(0)
    expect(page.locator(".split-cross-border")).to_have_count(0)
    shot(page, artifacts_dir, "declined-1-checkout")
    page.locator("#place-order").click()
    page.wait_for_url(PAY_URL)
    number = order_number_from(page)

    # When the card is declined
    pay_with_card(page, CARD_DECLINED)

    # Then the page says why and lets the shopper try again; the order waits for payment
    errors = page.locator("#card-errors")
    expect(errors).to_be_visible()
    # Our own (translated) words for Stripe's code, not Stripe's English text.
    with translation.override("ko"):
        expect(errors).to_have_text(str(PAYMENT_ERROR_MESSAGES["card_declined"]))
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#pay-button")).not_to_have_attribute("aria-busy", "true")
    shot(page, artifacts_dir, "declined-2-error")

    def payment_failed() -> bool:
        """the payment_failed webhook was applied"""
        return Payment.objects.get(order__number=number).status == Payment.Status.FAILED

    wait_until(payment_failed)
    order = Order.objects.get(number=number)
    assert order.status == Order.Status.PENDING_PAYMENT
    payment = Payment.objects.get(order=order)
    # localstripe's event carries the code (card_declined), real Stripe also a decline_code.
    assert payment.last_error_code in ("card_declined", "generic_decline")
    assert payment.last_error_message
    assert Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE).count() == 1

    # Coming back to the payment page later, it says what went wrong last time
    page.reload()
    expect(page.locator("#previous-error")).to_be_visible()
    with translation.override("ko"):
        expect(page.locator("#previous-error")).to_contain_text(
            str(PAYMENT_ERROR_MESSAGES["card_declined"])
        )
    expect(page.locator("#card-errors")).to_be_hidden()

    # When they try again with a good card, the order is paid
    pay_with_card(page, CARD_OK)
    expect_paid(page, number)
    shot(page, artifacts_dir, "declined-3-paid")

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_krw == payment.captured_krw == order.total_krw
    assert payment.last_error_message == ""
    assert Payment.objects.filter(order=order).count() == 1
