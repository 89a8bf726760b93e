"""Logs: one JSON object per line with time, level, logger, message, request_id (and the
exception text), the request id taken from a well-formed X-Request-ID or made up, returned
in the response and on every record written during the request; and a whole checkout with a
PCCC and a Stripe payment, logged at DEBUG from the root logger through the configured
handler, never writes the full PCCC, a Stripe or webhook secret, an API key, a card number
or a password."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from orders.pccc import PcccRedactingFilter
from storefront.accounts.services import account_create
from storefront.logging import JsonFormatter, RequestIdFilter
from tests.factories import ExchangeRateFactory, OrderFactory, ProductFactory
from tests.orders.test_stripe_webhook import event, sign

pytestmark = pytest.mark.django_db

PCCC = "P100000000001"
PASSWORD = "Tiger-Lily-Password-77"
CARD = "4242424242424242"
NEW_ADDRESS = {
    "address": "new",
    "new-recipient_name": "홍길동",
    "new-phone": "010-1234-5678",
    "new-postal_code": "06236",
    "new-road_address": "서울특별시 강남구 테헤란로 152",
    "new-detail_address": "101동 1001호",
}


def console_handler() -> logging.Handler:
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    return handler


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the configured console handler writes, with the root logger at DEBUG."""
    handler, root = console_handler(), logging.getLogger()
    stream, level = io.StringIO(), root.level
    previous = handler.setStream(stream)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.setLevel(level)
        handler.setStream(previous)


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_console_handler_keeps_the_pccc_filter_and_adds_the_request_id():
    filters = {type(f) for f in console_handler().filters}
    assert {PcccRedactingFilter, RequestIdFilter} <= filters


def test_well_formed_request_id_is_kept_and_returned(client):
    response = client.get(reverse("health-live"), HTTP_X_REQUEST_ID="lb-1234abcd.5678")
    assert response["X-Request-ID"] == "lb-1234abcd.5678"


@pytest.mark.parametrize(
    "incoming",
    ["", "short", "has space in it!", 'quote"injection-123', "x" * 200, "new\nline-12345"],
)
def test_malformed_request_id_is_replaced_by_a_new_one(client, incoming):
    response = client.get(reverse("health-live"), HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    again = client.get(reverse("health-live"), HTTP_X_REQUEST_ID=incoming)
    assert again["X-Request-ID"] != response["X-Request-ID"]


def test_an_error_is_one_json_line_with_the_request_id_and_the_masked_traceback(
    client, captured_logs, settings
):
    """A crash in a view: Django logs it with the traceback; the line parses, carries the
    request id, and the PCCC in the exception message is masked."""
    from django.urls import path

    import storefront.urls

    def boom(request):
        raise RuntimeError(f"customs said no for {PCCC}\nsecond line")

    settings.ROOT_URLCONF = type(
        "urls",
        (),
        {"urlpatterns": [path("boom/", boom), *storefront.urls.urlpatterns]},
    )
    client.raise_request_exception = False
    response = client.get("/boom/", HTTP_X_REQUEST_ID="req-boom-0001")
    assert response.status_code == 500
    (line,) = [e for e in json_lines(captured_logs) if e["logger"] == "django.request"]
    assert line["request_id"] == "req-boom-0001"
    assert line["level"] == "ERROR"
    assert set(line) >= {"time", "level", "logger", "message", "request_id", "exc"}
    assert "RuntimeError" in line["exc"]
    assert PCCC not in captured_logs.getvalue()
    assert "0001" in line["exc"]  # masked to its last digits, not dropped


def test_checkout_and_payment_never_log_secrets(
    settings, captured_logs, customs_check, stripe_local, stripe_confirm_card, api_client, partner
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STRIPE_WEBHOOK_SECRET = "whsec_logcapture_5e9a1c"
    settings.CARRIER_POINTS_API_KEY = "carrier-key-logcapture-77aa"
    ExchangeRateFactory(kind="selling", rate=Decimal("1400"))
    ExchangeRateFactory(kind="customs", rate=Decimal("1390"))
    product = ProductFactory(source_price_usd=Decimal("30.00"))  # cross-border: needs a PCCC
    account_create(email="hong@example.com", password=PASSWORD, name="홍길동")
    shopper = Client()
    request_ids = set()

    def call(method: str, url: str, data=None, **extra):
        request_id = f"test-req-{len(request_ids):04d}"
        request_ids.add(request_id)
        response = getattr(shopper, method)(url, data, HTTP_X_REQUEST_ID=request_id, **extra)
        assert response["X-Request-ID"] == request_id
        return response

    # A failed and a good login, with the password in the form.
    call("post", reverse("accounts:login"), {"email": "hong@example.com", "password": "nope-1"})
    assert (
        call(
            "post", reverse("accounts:login"), {"email": "hong@example.com", "password": PASSWORD}
        ).status_code
        == 302
    )
    call("post", reverse("orders:cart-add"), {"product": product.asin, "quantity": 1})
    total = call("get", reverse("orders:checkout")).context["quote"].total_krw
    # A careless log line in the middle of the request cycle: the filter must catch it.
    logging.getLogger("orders.views").debug("checkout for PCCC %s", PCCC)
    placed = call(
        "post",
        reverse("orders:checkout"),
        {
            **NEW_ADDRESS,
            "expected_total_krw": total,
            "pccc": PCCC,
            "consent_collection": "on",
            "consent_transfer": "on",
        },
    )
    assert placed.status_code == 302, placed.context and placed.context.get("general_errors")
    order = Order.objects.get(customer__email="hong@example.com")
    assert order.pccc_last4 == "0001"

    # Pay: the page makes the PaymentIntent, the card is confirmed at (local) Stripe, and
    # Stripe's signed webhook marks the order paid.
    pay_page = call("get", reverse("orders:pay", args=[order.number]))
    payment = pay_page.context["payment"]
    assert (
        stripe_confirm_card(payment.payment_intent_id, payment.client_secret, CARD)["status"]
        == "succeeded"
    )
    intent = {
        "id": payment.payment_intent_id,
        "object": "payment_intent",
        "amount": payment.amount_krw,
        "amount_received": payment.amount_krw,
        "currency": "krw",
        "status": "succeeded",
    }
    body = event("evt_logcapture_1", "payment_intent.succeeded", intent)
    webhook = call(
        "post",
        reverse("orders:stripe-webhook"),
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, settings.STRIPE_WEBHOOK_SECRET),
    )
    assert webhook.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID

    # A partner reads its orders with its API key.
    partner_client = api_client(partner)
    OrderFactory(partner=partner)
    assert (
        partner_client.get("/api/v1/orders/", HTTP_X_REQUEST_ID="test-req-api").status_code == 200
    )
    request_ids.add("test-req-api")

    output = captured_logs.getvalue()
    lines = json_lines(captured_logs)
    assert len(lines) > 5  # the capture really saw the traffic
    assert any(line["level"] == "DEBUG" for line in lines)
    for secret in (
        PCCC,
        PCCC.lower(),
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_WEBHOOK_SECRET,
        settings.CARRIER_POINTS_API_KEY,
        partner_client.raw_key,
        CARD,
        PASSWORD,
        "nope-1",
        payment.client_secret,
    ):
        assert secret not in output, f"{secret[:6]}… is in the logs"
    # Every line written during a request carries that request's id.
    during = [line for line in lines if line["request_id"] is not None]
    assert during
    assert {line["request_id"] for line in during} <= request_ids
    (careless,) = [line for line in lines if line["message"].startswith("checkout for PCCC")]
    assert careless["message"].endswith("0001")
