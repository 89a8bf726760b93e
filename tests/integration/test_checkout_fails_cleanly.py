"""Checkout when a service fails on EVERY attempt (issue 7), so the clients' retries cannot
absorb it: the carrier (points) or Stripe (localstripe) slowed to 2 s and failing each
request (``fail_ratio`` 1.0), and a service slower (2 s) than the client's per-attempt
timeout (0.5 s). test_degraded_services.py covers 30 %, where every failure was retried
away; these cover the refusal itself.

What a failure leaves, by design:

- carrier down, shopper using points: the checkout page again (200) with the reason and the
  points box unticked; no order, no reservation, the cart as it was; the hold row stays
  ``pending`` (its fate at the carrier is unknown) until the membership sweep voids it,
  and then the day's discount is the shopper's again.
- Stripe down: the order is placed (it needs no Stripe answer) and awaits payment with its
  reservation and its points hold; the pay page says the payment service is not answering
  and that nothing was charged. When Stripe is back the pay page creates the
  PaymentIntent (with the idempotency key stored with the order, so never twice); unpaid,
  the order expires and gives its stock and points back.

The number of attempts each service received is the client's retries + 1, each attempt
ending on the service's answer (500, within the timeout) or on the client's per-attempt
timeout; nothing asserts wall-clock time (the seconds are printed for the runbook).
"""

from __future__ import annotations

import datetime
import logging
import time

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from fulfillment.models import Reservation
from membership.models import PointHold
from membership.selectors import OfferReason, points_offer
from membership.services.holds import points_holds_sweep
from orders.models import Cart, CartLine, Order, Payment
from orders.tasks import orders_expire_unpaid
from storefront.events import event_deliver
from storefront.models import OutboxEvent
from tests.membership.conftest import (  # noqa: F401 (fixtures)
    VIP,
    link,
    make_shopper,
    product,
    rates,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LATENCY_MS = 2000
NEW_ADDRESS = {
    "address": "new",
    "new-recipient_name": "홍길동",
    "new-phone": "010-1234-5678",
    "new-postal_code": "06236",
    "new-road_address": "서울특별시 강남구 테헤란로 152",
}
# The shopper-facing messages (locale/ko/LC_MESSAGES/django.po).
POINTS_DOWN = {
    "ko": "통신사 포인트 서비스가 응답하지 않아 포인트를 사용하지 못했습니다",
    "en": "The carrier's points service is not answering, so your points could not be used.",
}
PAYMENT_DOWN = {
    "ko": "지금 결제 서비스가 응답하지 않습니다. 결제된 금액은 없습니다.",
    "en": "The payment service is not answering right now. Nothing has been charged.",
}
MEMBER_BALANCE = 80_000
DISCOUNT = 15_400  # VIP: 10 % of ₩154,000


@pytest.fixture
def shopper(client, make_shopper, link, product, membership_tier_rules):  # noqa: F811
    """A VIP member with ₩154,000 (one domestic item) in the cart, logged in."""
    customer = make_shopper()
    link(customer, VIP, balance=MEMBER_BALANCE)
    cart = Cart.objects.create(customer=customer)
    CartLine.objects.create(cart=cart, product=product, quantity=1)
    client.force_login(customer)
    return customer


def checkout_form(client, *, use_points: bool) -> dict:
    page = client.get(reverse("orders:checkout"))
    assert page.status_code == 200
    form = page.context["form"]
    data = {
        **NEW_ADDRESS,
        "expected_total_krw": form.initial["expected_total_krw"],
        "expected_discount_krw": form.initial["expected_discount_krw"],
    }
    if use_points:
        assert form.initial["expected_discount_krw"] == DISCOUNT
        data["use_points"] = "on"
    return data


def post_checkout(client, data) -> tuple:
    started = time.monotonic()
    # The test client re-raises any unhandled exception: a 500 fails the test here.
    response = client.post(reverse("orders:checkout"), data)
    return response, time.monotonic() - started


def carrier_calls(controls) -> list[tuple[str, str, str | None]]:
    """The carrier requests after linking (the link's one-time code is not checkout's)."""
    return [
        (r["method"], r["path"], r["fault"])
        for r in controls.requests("carrier")
        if not r["path"].startswith("/carrier/otp/")
    ]


def carrier_attempt_logs(caplog, attempts: int, outcome: str) -> list[str]:
    """The client's log line for each failed attempt ("attempt 2/3 timed out")."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "membership.carrier_client" and f"/{attempts} {outcome}" in r.getMessage()
    ]


def assert_nothing_placed(customer, *, cart_lines: int = 1) -> None:
    assert not Order.objects.filter(customer=customer).exists()
    assert not Reservation.objects.exists()
    assert not Payment.objects.exists()
    assert not PointHold.objects.filter(status__in=["held", "captured"]).exists()
    cart = Cart.objects.get(customer=customer)
    assert cart.lines.count() == cart_lines
    assert cart.lines.get().quantity == 1


def refused_without_points(response, language: str) -> None:
    """The checkout page again, the reason shown, the box unticked, the total without
    points: submitting the page as shown orders without points."""
    assert response.status_code == 200
    assert POINTS_DOWN[language] in response.context["points_error"]
    body = response.content.decode()
    assert escape(POINTS_DOWN[language]) in body
    assert "checked" not in body.split('name="use_points"')[1].split(">")[0]
    assert response.context["quote"].discount_krw == 0


def test_carrier_failing_every_attempt_refuses_points_with_a_message_and_places_nothing(
    client, settings, shopper, carrier_points, stripe_local, caplog
):
    settings.CARRIER_POINTS_TIMEOUT_SECONDS = 3.0  # above the 2 s latency: each attempt answers
    settings.CARRIER_POINTS_RETRIES = 2
    attempts = settings.CARRIER_POINTS_RETRIES + 1
    caplog.set_level(logging.WARNING, logger="membership.carrier_client")
    carrier_points.faults("carrier", latency_ms=LATENCY_MS, fail_ratio=1.0)
    data = checkout_form(client, use_points=True)  # Korean: the site's default language
    assert carrier_calls(carrier_points) == []  # the page reads points locally

    response, seconds = post_checkout(client, data)

    refused_without_points(response, "ko")
    assert_nothing_placed(shopper)
    # The carrier got retries + 1 attempts at the hold, then as many at voiding it, each
    # answered 500 (the server's answer, inside the per-attempt timeout), then nothing.
    hold_attempts = [("POST", "/carrier/holds", "fail")] * attempts
    void_attempts = [("POST", "/carrier/holds/void", "fail")] * attempts
    assert carrier_calls(carrier_points) == hold_attempts + void_attempts
    assert len(carrier_attempt_logs(caplog, attempts, "answered 500")) == 2 * attempts
    assert carrier_attempt_logs(caplog, attempts, "timed out") == []
    # No point moved at the carrier; locally the hold's fate is unknown, so it stays
    # pending (never "held"), keeping the day's slot until the sweep voids it.
    carrier = carrier_points.state("carrier")
    assert carrier["holds"] == {}
    assert carrier["members"][VIP[0]]["held"] == 0
    hold = PointHold.objects.get()
    assert (hold.status, hold.order_id, hold.attempts) == ("pending", None, 2)
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).reason == "used_today"
    print(  # noqa: T201 — the runbook records these figures
        f"carrier fail_ratio 1.0 at {LATENCY_MS} ms: POST /checkout/ 200 in {seconds:.1f} s, "
        f"{len(carrier_calls(carrier_points))} carrier attempts"
    )

    # The carrier recovers; the sweep voids the pending hold and the shopper, back on the
    # checkout page, gets the day's discount again and places the order with it.
    carrier_points.faults("carrier", latency_ms=0, fail_ratio=0)
    later = timezone.now() + datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES + 1)
    assert points_holds_sweep(now=later) == 1
    hold.refresh_from_db()
    assert hold.status == "voided"
    assert hold.idempotency_key in carrier_points.state("carrier")["voided_keys"]
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).reason == OfferReason.OK

    response, _ = post_checkout(client, checkout_form(client, use_points=True))

    order = Order.objects.get(customer=shopper)
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    assert order.discount_krw == DISCOUNT
    assert PointHold.objects.get(order=order).status == "held"
    assert carrier_points.state("carrier")["members"][VIP[0]]["held"] == DISCOUNT
    assert order.reservations.filter(status="active").count() == 1
    assert Payment.objects.get(order=order).payment_intent_id


def test_stripe_failing_every_attempt_leaves_the_order_awaiting_payment_and_catches_up(
    client, settings, shopper, carrier_points, stripe_local
):
    settings.STRIPE_TIMEOUT_SECONDS = 10.0  # the default; above the 2 s latency
    settings.STRIPE_MAX_RETRIES = 2
    attempts = settings.STRIPE_MAX_RETRIES + 1
    client.cookies["django_language"] = "en"
    stripe_local.faults(latency_ms=LATENCY_MS, fail_ratio=1.0)
    data = checkout_form(client, use_points=True)

    response, checkout_seconds = post_checkout(client, data)

    # Placing needs no Stripe answer: the order exists and the shopper goes to pay.
    order = Order.objects.get(customer=shopper)
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    started = time.monotonic()
    pay_page = client.get(response["Location"])
    pay_seconds = time.monotonic() - started
    assert pay_page.status_code == 200
    body = pay_page.content.decode()
    assert PAYMENT_DOWN["en"] in body
    assert 'id="payment-form"' not in body  # no card form without a PaymentIntent
    assert pay_page.context["unavailable"] is True

    # Checkout and the pay page each made retries + 1 attempts, all with the key stored
    # with the order, each answered 500 by localstripe; nothing was created there.
    payment = Payment.objects.get(order=order)
    journal = stripe_local.requests()
    assert [(r["method"], r["path"], r["status"]) for r in journal] == [
        ("POST", "/v1/payment_intents", 500)
    ] * (2 * attempts)
    assert {r["idempotency_key"] for r in journal} == {payment.idempotency_key}
    assert stripe_local.objects("payment_intent") == []
    # Nothing half-done: the designed state of an order waiting for its PaymentIntent.
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert order.payment_due_at > timezone.now()
    assert (payment.status, payment.payment_intent_id, payment.amount_krw) == (
        "creating",
        None,
        order.total_krw,
    )
    assert order.reservations.filter(status="active").count() == 1
    assert PointHold.objects.get(order=order).status == "held"
    assert not Cart.objects.get(customer=shopper).lines.exists()  # the order has them now
    print(  # noqa: T201 — the runbook records these figures
        f"stripe fail_ratio 1.0 at {LATENCY_MS} ms: POST /checkout/ 302 in "
        f"{checkout_seconds:.1f} s, pay page 200 (unavailable) in {pay_seconds:.1f} s, "
        f"{len(journal)} Stripe attempts"
    )

    # Stripe recovers: the pay page creates the PaymentIntent with the stored key.
    stripe_local.faults(latency_ms=0, fail_ratio=0)
    pay_page = client.get(reverse("orders:pay", args=[order.number]))
    assert pay_page.status_code == 200
    assert 'id="payment-form"' in pay_page.content.decode()
    payment.refresh_from_db()
    (intent,) = stripe_local.objects("payment_intent")
    assert payment.payment_intent_id == intent["id"]
    assert intent["amount"] == order.total_krw
    assert payment.status == "requires_payment"

    # Nobody pays: past the window the order expires (beat), its PaymentIntent is
    # cancelled, its stock and points go back.
    Order.objects.filter(pk=order.pk).update(
        payment_due_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert orders_expire_unpaid.apply().get() == 1
    for event in OutboxEvent.objects.filter(dispatched_at__isnull=True):
        event_deliver(event_id=event.pk)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert not Reservation.objects.filter(status="active").exists()
    assert PointHold.objects.get(order=order).status == "released"
    assert carrier_points.state("carrier")["members"][VIP[0]]["held"] == 0
    assert stripe_local.objects("payment_intent")[0]["status"] == "canceled"


def test_carrier_slower_than_the_timeout_refuses_points_with_a_message_and_places_nothing(
    client, settings, shopper, carrier_points, stripe_local, caplog
):
    settings.CARRIER_POINTS_TIMEOUT_SECONDS = 0.5  # under the 2 s latency: every attempt cut
    settings.CARRIER_POINTS_RETRIES = 2
    attempts = settings.CARRIER_POINTS_RETRIES + 1
    caplog.set_level(logging.WARNING, logger="membership.carrier_client")
    client.cookies["django_language"] = "en"
    carrier_points.faults("carrier", latency_ms=LATENCY_MS)  # slow, never failing
    data = checkout_form(client, use_points=True)

    response, seconds = post_checkout(client, data)

    refused_without_points(response, "en")
    assert_nothing_placed(shopper)
    hold_attempts = [("POST", "/carrier/holds", None)] * attempts
    void_attempts = [("POST", "/carrier/holds/void", None)] * attempts
    assert carrier_calls(carrier_points) == hold_attempts + void_attempts
    # Every attempt ended on the client's per-attempt timeout, none on an answer.
    assert len(carrier_attempt_logs(caplog, attempts, "timed out")) == 2 * attempts
    assert carrier_attempt_logs(caplog, attempts, "answered") == []
    hold = PointHold.objects.get()
    assert (hold.status, hold.order_id) == ("pending", None)
    print(  # noqa: T201 — the runbook records these figures
        f"carrier {LATENCY_MS} ms vs timeout 0.5 s: POST /checkout/ 200 in {seconds:.1f} s, "
        f"{len(carrier_calls(carrier_points))} carrier attempts"
    )

    # The slow carrier did apply the hold (and later the void) after the client gave up.
    # Once it recovers the sweep settles the hold by its key: no point stays held.
    carrier_points.faults("carrier", latency_ms=0)
    later = timezone.now() + datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES + 1)
    points_holds_sweep(now=later)
    hold.refresh_from_db()
    assert hold.status in ("released", "voided")
    carrier = carrier_points.state("carrier")
    assert carrier["members"][VIP[0]]["held"] == 0
    assert carrier["members"][VIP[0]]["balance"] == MEMBER_BALANCE
    assert all(h["status"] != "held" for h in carrier["holds"].values())
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).reason == OfferReason.OK


def test_stripe_slower_than_the_timeout_leaves_the_order_awaiting_payment_and_catches_up(
    client, settings, shopper, carrier_points, stripe_local, caplog
):
    settings.STRIPE_TIMEOUT_SECONDS = 0.5  # under the 2 s latency: every attempt cut
    settings.STRIPE_MAX_RETRIES = 2
    attempts = settings.STRIPE_MAX_RETRIES + 1
    caplog.set_level(logging.INFO, logger="stripe")
    stripe_local.faults(latency_ms=LATENCY_MS)  # slow, never failing
    data = checkout_form(client, use_points=False)  # Korean: the site's default language

    response, checkout_seconds = post_checkout(client, data)

    order = Order.objects.get(customer=shopper)
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    started = time.monotonic()
    pay_page = client.get(response["Location"])
    pay_seconds = time.monotonic() - started
    assert pay_page.status_code == 200
    assert PAYMENT_DOWN["ko"] in pay_page.content.decode()
    assert 'id="payment-form"' not in pay_page.content.decode()

    payment = Payment.objects.get(order=order)
    journal = stripe_local.requests()
    assert len(journal) == 2 * attempts  # checkout, then the pay page
    assert all(r["status"] is None for r in journal)  # none answered before the client left
    assert {(r["method"], r["path"]) for r in journal} == {("POST", "/v1/payment_intents")}
    assert {r["idempotency_key"] for r in journal} == {payment.idempotency_key}
    # Every attempt was cut by the client at the configured read timeout (the library logs
    # each retried one; ours logs the last).
    cut = [
        r.getMessage()
        for r in caplog.records
        if "Read timed out. (read timeout=0.5)" in r.getMessage()
    ]
    assert len(cut) == 2 * attempts
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert (payment.status, payment.payment_intent_id) == ("creating", None)
    assert order.reservations.filter(status="active").count() == 1
    print(  # noqa: T201 — the runbook records these figures
        f"stripe {LATENCY_MS} ms vs timeout 0.5 s: POST /checkout/ 302 in "
        f"{checkout_seconds:.1f} s, pay page 200 (unavailable) in {pay_seconds:.1f} s, "
        f"{len(journal)} Stripe attempts"
    )

    # localstripe reads a request's body after its injected latency, so an attempt the
    # client abandoned is never applied there (Stripe applying it and the answer being
    # lost is tests/orders/test_payments.py's drop_next case). Back to normal, the pay page
    # creates the PaymentIntent with the key stored with the order: exactly one.
    assert stripe_local.objects("payment_intent") == []
    stripe_local.faults(latency_ms=0)
    pay_page = client.get(reverse("orders:pay", args=[order.number]))
    assert pay_page.status_code == 200
    assert 'id="payment-form"' in pay_page.content.decode()
    payment.refresh_from_db()
    (intent,) = stripe_local.objects("payment_intent")
    assert payment.payment_intent_id == intent["id"]
    assert intent["amount"] == order.total_krw
