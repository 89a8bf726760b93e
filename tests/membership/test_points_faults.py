"""Points when the carrier misbehaves, with faults injected through the sandbox's own
controls (never a mock): timeouts at hold, answers lost after the change was applied,
failed captures, duplicate answers. Points are never lost, doubled or stranded."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from fulfillment.models import Reservation
from membership.errors import PointsCarrierUnavailable
from membership.models import PointEntry, PointHold
from membership.selectors import OfferReason, points_offer
from membership.services import holds as hold_services
from membership.services.ledger import ledger_balances
from orders.models import Cart, Order
from orders.services import payments
from orders.services.checkout import order_place
from storefront.models import OutboxDelivery

from .conftest import HONG, VIP
from .test_points_cycle import carrier_member, carrier_types, deliver, kinds, pay, place

pytestmark = pytest.mark.django_db

SUBSCRIBER = "membership.subscribers.order_paid_capture_points"


@pytest.fixture
def short_faults(carrier_points):
    """Injected timeouts and lost answers hold a sandbox thread for 1 s, not 30."""
    carrier_points.faults("carrier", timeout_seconds=1.0)
    return carrier_points


def holds_at_carrier(controls) -> list[dict]:
    return list(controls.state("carrier")["holds"].values())


def test_timeout_at_hold_places_nothing_and_leaves_no_hold(
    shopper, link, product, cart_for, short_faults
):
    account = link(shopper, VIP, balance=80_000)
    cart = cart_for(shopper, product)
    short_faults.faults("carrier", timeout_next=3)  # every attempt times out

    with pytest.raises(PointsCarrierUnavailable) as caught:
        place(shopper, cart, points=15_400)

    assert "without points" in caught.value.message or "포인트" in caught.value.message
    assert not Order.objects.exists()
    assert not Reservation.objects.exists()
    assert Cart.objects.get(pk=cart.pk).lines.count() == 1
    hold = PointHold.objects.get()
    assert hold.status == "voided"  # voided at the carrier right away: it can never arrive
    assert hold.idempotency_key in short_faults.state("carrier")["voided_keys"]
    assert holds_at_carrier(short_faults) == []
    assert kinds(account) == ["sync"]
    # The shopper goes on without points, and the day's discount is still theirs.
    order = place(shopper, cart, points=None)
    assert order.discount_krw == 0
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).points == 15_400


def test_a_hold_that_landed_after_the_timeouts_is_found_and_released(
    shopper, link, product, cart_for, short_faults
):
    account = link(shopper, VIP, balance=80_000)
    cart = cart_for(shopper, product)
    # Two attempts time out before reaching the carrier; the third is applied but its
    # answer is lost. The client gives up, yet the carrier holds the points.
    short_faults.faults("carrier", timeout_next=2)
    short_faults.state("carrier", drop_next=1)

    with pytest.raises(PointsCarrierUnavailable):
        place(shopper, cart, points=15_400)

    assert not Order.objects.exists()
    hold = PointHold.objects.get()
    assert hold.status == "released"
    (at_carrier,) = holds_at_carrier(short_faults)
    assert at_carrier["status"] == "released"
    assert carrier_member(short_faults)["held"] == 0
    assert carrier_member(short_faults)["balance"] == 80_000
    assert kinds(account) == ["sync", "hold", "release"]
    assert ledger_balances(account_id=account.pk).available == 80_000
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).reason == OfferReason.OK


def test_a_hold_orphaned_while_the_carrier_is_down_is_released_by_the_sweep(
    shopper, link, product, cart_for, short_faults, settings
):
    settings.CARRIER_POINTS_RETRIES = 0
    account = link(shopper, VIP, balance=80_000)
    cart = cart_for(shopper, product)
    # The hold is applied and its answer lost; the immediate void is applied too and its
    # answer lost as well: locally the hold's fate is unknown.
    short_faults.state("carrier", drop_next=2)

    with pytest.raises(PointsCarrierUnavailable):
        place(shopper, cart, points=15_400)

    hold = PointHold.objects.get()
    assert hold.status == "pending"
    assert hold.attempts >= 2
    # Until it is settled the hold keeps its points and the day's slot: nothing is spent twice.
    assert points_offer(customer_id=shopper.pk, merchandise_krw=154_000).reason == "used_today"

    assert hold_services.points_holds_sweep() == 0  # too young: its placement may be running
    later = timezone.now() + datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES + 1)
    assert hold_services.points_holds_sweep(now=later) == 1

    hold.refresh_from_db()
    assert hold.status == "released"
    assert kinds(account) == ["sync", "hold", "release"]
    assert carrier_member(short_faults)["held"] == 0
    assert carrier_types(short_faults) == ["hold", "release"]
    assert hold_services.points_holds_sweep(now=later) == 0  # nothing left to do


def test_a_dropped_answer_at_hold_is_resolved_by_the_idempotency_key(
    shopper, link, product, cart_for, short_faults
):
    account = link(shopper, VIP, balance=80_000)
    short_faults.state("carrier", drop_next=1)

    order = place(shopper, cart_for(shopper, product), points=15_400)

    assert order.discount_krw == 15_400
    hold = PointHold.objects.get()
    assert hold.status == "held"
    posts = [r for r in short_faults.requests("carrier") if r["path"] == "/carrier/holds"]
    assert len(posts) == 2  # the lost answer, then the replay of the same key
    assert len(holds_at_carrier(short_faults)) == 1
    assert carrier_member(short_faults)["held"] == 15_400
    assert kinds(account) == ["sync", "hold"]


def test_a_failed_capture_is_retried_until_it_succeeds(
    shopper, link, product, cart_for, short_faults, stripe_local, stripe_confirm_card
):
    account = link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)
    pay(order, stripe_confirm_card)
    short_faults.faults("carrier", fail_next=3)  # all three attempts answer 500

    deliver(order, "order.paid")

    hold = PointHold.objects.get()
    assert hold.status == "held"
    # The subscriber's transaction rolled back; the failure is on its delivery record.
    delivery = OutboxDelivery.objects.get(subscriber=SUBSCRIBER)
    assert delivery.status == "failed"
    assert delivery.attempts == 1
    assert "carrier" in delivery.last_error.lower()
    assert "capture" not in carrier_types(short_faults)

    deliver(order, "order.paid")  # the relay's next try; the carrier is back

    hold.refresh_from_db()
    assert (hold.status, hold.last_error) == ("captured", "")
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert carrier_types(short_faults) == ["hold", "capture"]
    assert carrier_member(short_faults)["balance"] == 80_000 - 15_400
    assert kinds(account) == ["sync", "hold", "capture"]


def test_duplicate_answers_are_recorded_once(
    shopper, link, product, cart_for, short_faults, stripe_local, stripe_confirm_card
):
    account = link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)
    pay(order, stripe_confirm_card)
    short_faults.state("carrier", drop_next=1)  # the capture's first answer is lost

    hold = hold_services.points_capture(order_id=order.pk)[0]
    assert hold.status == "captured"
    captures = [r for r in short_faults.requests("carrier") if r["path"].endswith("/capture")]
    assert len(captures) == 2  # lost, then replayed with the same key

    # The same answer arriving again, and the capture asked for again: nothing new.
    from membership import carrier_client

    answer = carrier_client.hold_get(hold_id=hold.carrier_hold_id)
    hold_services._record(hold_id=hold.pk, carrier_hold=answer)
    hold_services._record(hold_id=hold.pk, carrier_hold=answer)
    assert hold_services.points_capture(order_id=order.pk) == []
    deliver(order, "order.paid")

    assert kinds(account) == ["sync", "hold", "capture"]
    assert carrier_types(short_faults) == ["hold", "capture"]
    assert PointEntry.objects.filter(kind="capture").count() == 1
    assert carrier_member(short_faults)["balance"] == 80_000 - 15_400


def test_a_release_the_carrier_missed_is_done_by_the_redelivery(
    shopper, link, product, cart_for, short_faults
):
    link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)
    payments.order_cancel(order_id=order.pk, actor_type="customer", actor_id=shopper.pk, reason="x")
    short_faults.faults("carrier", fail_next=3)

    deliver(order, "order.cancelled")
    assert PointHold.objects.get().status == "held"
    assert carrier_member(short_faults)["held"] == 15_400

    deliver(order, "order.cancelled")
    assert PointHold.objects.get().status == "released"
    assert carrier_member(short_faults)["held"] == 0


def test_the_sweep_captures_a_paid_order_and_releases_a_cancelled_one(
    shopper,
    make_shopper,
    link,
    product,
    cart_for,
    short_faults,
    settings,
    stripe_local,
    stripe_confirm_card,
):
    """Events lost for good (never delivered): the sweep settles by the order's state."""
    from .conftest import GOLD

    link(shopper, VIP, balance=80_000)
    paid = place(shopper, cart_for(shopper, product), points=15_400)
    pay(paid, stripe_confirm_card)
    other = make_shopper()
    link(other, GOLD, balance=25_000)
    cancelled = order_place(
        customer_id=other.pk,
        email=other.email,
        cart_id=cart_for(other, product).pk,
        address=HONG,
        customs=None,
        use_points=True,
        expected_discount_krw=15_400,
    )
    payments.order_cancel(
        order_id=cancelled.pk, actor_type="customer", actor_id=other.pk, reason="x"
    )

    later = timezone.now() + datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES + 1)
    assert hold_services.points_holds_sweep(now=later) == 2

    assert PointHold.objects.get(order=paid).status == "captured"
    assert PointHold.objects.get(order=cancelled).status == "released"
    assert carrier_member(short_faults)["held"] == 0
    assert carrier_member(short_faults, "TM1000000002")["held"] == 0


def test_the_sweep_leaves_holds_of_orders_still_waiting_for_payment(
    shopper, link, product, cart_for, short_faults, settings
):
    link(shopper, VIP, balance=80_000)
    order = place(shopper, cart_for(shopper, product), points=15_400)
    later = timezone.now() + datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES + 1)
    before = short_faults.request_count("carrier")

    assert hold_services.points_holds_sweep(now=later) == 0

    assert PointHold.objects.get(order=order).status == "held"
    assert short_faults.request_count("carrier") == before
