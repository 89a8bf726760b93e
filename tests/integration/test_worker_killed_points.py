"""A worker killed with SIGKILL in the middle of a point capture (the membership order.paid
subscriber calling the carrier): after a new worker runs the relay again, every paid order's
points are captured exactly once (one capture transaction at the carrier, one capture ledger
entry) and its allocation is done exactly once.

The carrier is slowed with the sandbox's own latency control, so the kill lands while the
capture request is in flight. The sandbox still applies that request after the latency
(the client is gone by then): the capture happened at the carrier but was never recorded
here, and the rerun must find it through the same idempotency key rather than capture again.
"""

from __future__ import annotations

import pytest

from fulfillment.models import Allocation, Stock
from membership.models import PointEntry, PointHold
from storefront.models import OutboxDelivery, OutboxEvent
from storefront.tasks import outbox_sweep
from tests.fixtures.worker import wait_until
from tests.membership.conftest import (  # noqa: F401 (fixtures)
    VIP,
    cart_for,
    link,
    make_shopper,
    product,
    rates,
)
from tests.membership.test_points_cycle import carrier_types, pay, place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CAPTURE = "membership.subscribers.order_paid_capture_points"
ALLOCATE = "fulfillment.subscribers.order_paid_allocate"
ORDERS = 3
LATENCY_MS = 4000


def capture_requests(controls) -> int:
    return sum(
        1
        for r in controls.requests("carrier")
        if r["method"] == "POST" and r["path"].endswith("/capture")
    )


def test_worker_killed_mid_capture_captures_and_allocates_exactly_once(
    own_broker_workers,
    carrier_points,
    membership_tier_rules,
    make_shopper,  # noqa: F811
    link,  # noqa: F811
    product,  # noqa: F811
    cart_for,  # noqa: F811
    stripe_local,
    stripe_confirm_card,
):
    shopper = make_shopper()
    account = link(shopper, VIP, balance=200_000)
    # One order a day may use points: the others are placed without; all are paid.
    orders = [place(shopper, cart_for(shopper, product), points=15_400)]
    orders += [place(shopper, cart_for(shopper, product), points=None) for _ in range(ORDERS - 1)]
    stock_before = Stock.objects.get(product=product).allocated
    hold = PointHold.objects.get()
    assert hold.status == "held"

    workers = own_broker_workers
    worker_env = {"CARRIER_POINTS_TIMEOUT_SECONDS": "30", "CELERY_VISIBILITY_TIMEOUT_SECONDS": "4"}
    first = workers.start(**worker_env)
    carrier_points.faults("carrier", latency_ms=LATENCY_MS)
    for order in orders:
        pay(order, stripe_confirm_card)  # commits order.paid; the relay goes to the worker

    wait_until(lambda: capture_requests(carrier_points) >= 1, timeout=30, what="the capture call")
    workers.kill(first)
    assert first.process.returncode is not None
    hold.refresh_from_db()
    assert hold.status == "held"  # the capture was never recorded here
    assert not PointEntry.objects.filter(kind="capture").exists()

    # The carrier finishes the abandoned request (it was applied after the latency).
    wait_until(
        lambda: "capture" in carrier_types(carrier_points),
        timeout=LATENCY_MS / 1000 + 10,
        what="the carrier to apply the abandoned capture",
    )
    carrier_points.faults("carrier", latency_ms=0)

    second = workers.start(**worker_env, OUTBOX_SWEEP_AFTER_SECONDS="0")
    events = OutboxEvent.objects.filter(topic="order.paid")
    assert events.count() == ORDERS

    def all_dispatched():
        """every order.paid event relayed to completion after the restart"""
        outbox_sweep.delay()  # beat's job
        return not events.filter(dispatched_at__isnull=True).exists()

    wait_until(all_dispatched, timeout=60, interval=0.5)

    hold.refresh_from_db()
    assert hold.status == "captured"
    assert carrier_types(carrier_points).count("capture") == 1
    assert PointEntry.objects.filter(account=account, kind="capture").count() == 1
    for order in orders:
        allocations = Allocation.objects.filter(order=order)
        assert allocations.count() == 1
        assert allocations.get().quantity == 1
    assert Stock.objects.get(product=product).allocated == stock_before + ORDERS
    for subscriber in (CAPTURE, ALLOCATE):
        deliveries = OutboxDelivery.objects.filter(subscriber=subscriber)
        assert deliveries.count() == ORDERS
        assert all(d.status == "succeeded" for d in deliveries)
    assert "storefront.tasks.outbox_relay" in second.output()
