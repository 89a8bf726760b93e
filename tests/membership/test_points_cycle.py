"""Points through an order's life, against the sandbox carrier over HTTP (and localstripe
for the money): hold at placement, capture at payment, release when the order will not be
paid, pro-rata refund after capture. The local ledger and the carrier's must agree at
every step."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from membership.models import PointEntry, PointHold
from membership.selectors import OfferReason, points_offer
from membership.services.ledger import ledger_balances
from orders.models import Order
from orders.services import payments
from orders.services.checkout import order_place
from storefront.events import event_deliver
from storefront.models import OutboxEvent

from .conftest import HONG, VIP

pytestmark = pytest.mark.django_db

CARD_OK = "4242424242424242"


def place(shopper, cart, *, points: int | None, total: int | None = None) -> Order:
    return order_place(
        customer_id=shopper.pk,
        email=shopper.email,
        cart_id=cart.pk,
        address=HONG,
        customs=None,
        expected_total_krw=total,
        use_points=points is not None,
        expected_discount_krw=points,
    )


def deliver(order: Order, topic: str) -> None:
    for event in OutboxEvent.objects.filter(aggregate_id=str(order.pk), topic=topic):
        event_deliver(event_id=event.pk)


def carrier_member(controls, member_ref: str = VIP[0]) -> dict:
    return controls.state("carrier")["members"][member_ref]


def carrier_types(controls) -> list[str]:
    return [txn["type"] for txn in controls.state("carrier")["transactions"]]


def kinds(account) -> list[str]:
    return list(
        PointEntry.objects.filter(account=account)
        .order_by("sequence")
        .values_list("kind", flat=True)
    )


def pay(order: Order, stripe_confirm_card) -> None:
    payment = payments.payment_intent_ensure(order_id=order.pk)
    assert payment.amount_krw == order.total_krw  # Stripe is asked for the discounted total
    stripe_confirm_card(payment.payment_intent_id, payment.client_secret, CARD_OK)
    payments.payment_reconcile(payment_id=payment.pk)


def test_hold_then_capture_on_payment_then_pro_rata_refunds(
    shopper, link, product, cart_for, carrier_points, stripe_local, stripe_confirm_card
):
    account = link(shopper, VIP, balance=80_000)
    cart = cart_for(shopper, product, 2)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=2 * 154_000)
    assert (offer.reason, offer.points) == (OfferReason.OK, 30_800)  # 10% of ₩308,000

    order = place(shopper, cart, points=30_800)

    assert order.discount_krw == 30_800
    assert order.total_krw == order.items_krw + order.shipping_krw - 30_800
    hold = PointHold.objects.get(order=order)
    assert (hold.status, hold.points, hold.tier) == ("held", 30_800, "VIP")
    assert carrier_member(carrier_points) | {} == {
        **carrier_member(carrier_points),
        "balance": 80_000,
        "held": 30_800,
    }
    assert ledger_balances(account_id=account.pk).available == 80_000 - 30_800
    assert ledger_balances(account_id=account.pk).held == 30_800

    pay(order, stripe_confirm_card)
    deliver(order, "order.paid")
    hold.refresh_from_db()
    assert hold.status == "captured"
    member = carrier_member(carrier_points)
    assert (member["balance"], member["held"]) == (80_000 - 30_800, 0)
    assert kinds(account) == ["sync", "hold", "capture"]
    assert ledger_balances(account_id=account.pk).available == 49_200
    assert ledger_balances(account_id=account.pk).held == 0

    # A quarter of the money back → a quarter of the points back (rounded down).
    quarter = order.total_krw // 4
    payments.refund_request(order_id=order.pk, amount_krw=quarter, reason="part", actor_id=None)
    deliver(order, "order.partially_refunded")
    deliver(order, "order.refunded")
    hold.refresh_from_db()
    first_share = 30_800 * quarter // order.total_krw
    assert hold.refunded_points == first_share
    assert carrier_member(carrier_points)["balance"] == 49_200 + first_share

    # The rest of the money back → exactly the rest of the points, whatever the rounding.
    rest = order.total_krw - quarter
    payments.refund_request(order_id=order.pk, amount_krw=rest, reason="rest", actor_id=None)
    for topic in ("order.partially_refunded", "order.refunded"):
        deliver(order, topic)
    hold.refresh_from_db()
    assert hold.refunded_points == 30_800
    assert carrier_member(carrier_points)["balance"] == 80_000
    assert kinds(account) == ["sync", "hold", "capture", "refund", "refund"]
    assert ledger_balances(account_id=account.pk).available == 80_000
    assert carrier_types(carrier_points) == ["hold", "capture", "refund", "refund"]

    # Every event delivered again: nothing moves.
    for topic in ("order.paid", "order.partially_refunded", "order.refunded"):
        deliver(order, topic)
    assert kinds(account) == ["sync", "hold", "capture", "refund", "refund"]
    assert carrier_member(carrier_points)["balance"] == 80_000


def test_unpaid_order_expiry_releases_the_points(shopper, link, product, cart_for, carrier_points):
    account = link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)
    Order.objects.filter(pk=order.pk).update(
        payment_due_at=timezone.now() - datetime.timedelta(minutes=1)
    )

    assert payments.order_expire(order_id=order.pk) is True
    deliver(order, "order.cancelled")

    hold = PointHold.objects.get(order=order)
    assert hold.status == "released"
    member = carrier_member(carrier_points)
    assert (member["balance"], member["held"]) == (80_000, 0)
    assert kinds(account) == ["sync", "hold", "release"]
    assert ledger_balances(account_id=account.pk).available == 80_000
    # The day's discount is free again after a release.
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).points == 15_400


def test_cancellation_before_payment_releases_the_points(
    shopper, link, product, cart_for, carrier_points
):
    link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)

    payments.order_cancel(
        order_id=order.pk, actor_type="customer", actor_id=shopper.pk, reason="changed mind"
    )
    deliver(order, "order.cancelled")
    deliver(order, "order.cancelled")  # redelivered: nothing more

    assert PointHold.objects.get(order=order).status == "released"
    assert carrier_types(carrier_points) == ["hold", "release"]
    assert carrier_member(carrier_points)["held"] == 0


def test_cancelling_a_paid_order_returns_all_points(
    shopper, link, product, cart_for, carrier_points, stripe_local, stripe_confirm_card
):
    link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)
    pay(order, stripe_confirm_card)
    deliver(order, "order.paid")

    payments.order_cancel(
        order_id=order.pk, actor_type="customer", actor_id=shopper.pk, reason="changed mind"
    )
    for topic in ("order.cancelled", "order.refunded"):
        deliver(order, topic)

    hold = PointHold.objects.get(order=order)
    assert (hold.status, hold.refunded_points) == ("captured", 15_400)
    assert carrier_types(carrier_points) == ["hold", "capture", "refund"]
    assert carrier_member(carrier_points)["balance"] == 80_000


def test_an_order_without_points_touches_nothing_at_the_carrier(
    shopper, link, product, cart_for, carrier_points
):
    account = link(shopper, VIP, balance=80_000)
    before = carrier_points.request_count("carrier")
    order = place(shopper, cart_for(shopper, product), points=None)
    assert order.discount_krw == 0
    assert not PointHold.objects.exists()
    assert carrier_points.request_count("carrier") == before
    assert kinds(account) == ["sync"]
