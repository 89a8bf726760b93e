"""One member, many orders at the same moment (PostgreSQL, real threads, each with its own
connection, against the sandbox carrier over HTTP): the daily discount is used once, and
no balance, ours or the carrier's, ever goes below zero."""

from __future__ import annotations

import pytest
from django.db.models import Min

from membership.errors import MembershipError
from membership.models import PointEntry, PointHold, TierRule
from membership.services.ledger import ledger_balances
from orders.models import Order
from orders.services.checkout import order_place
from tests.concurrency import run_concurrently

from .conftest import HONG, VIP

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDERS = 10


def place_all(shopper, carts, points):
    def call(cart_id):
        return lambda: order_place(
            customer_id=shopper.pk,
            email=shopper.email,
            cart_id=cart_id,
            address=HONG,
            customs=None,
            use_points=True,
            expected_discount_krw=points,
        )

    return run_concurrently([call(cart.pk) for cart in carts], allow_errors=True)


def test_ten_orders_at_once_use_the_daily_discount_once(
    shopper, link, product, cart_for, carrier_points
):
    account = link(shopper, VIP, balance=80_000)
    carts = [cart_for(shopper, product) for _ in range(ORDERS)]

    outcomes = place_all(shopper, carts, 15_400)

    placed = [o for o in outcomes if isinstance(o, Order)]
    refused = [o for o in outcomes if isinstance(o, MembershipError)]
    assert len(placed) == 1, outcomes
    assert len(refused) == ORDERS - 1, outcomes  # told the discount changed, nothing placed
    assert Order.objects.count() == 1
    assert Order.objects.get().discount_krw == 15_400
    assert PointHold.objects.filter(status__in=PointHold.LIVE).count() == 1
    member = carrier_points.state("carrier")["members"][VIP[0]]
    assert (member["balance"], member["held"]) == (80_000, 15_400)
    assert len(carrier_points.state("carrier")["holds"]) == 1
    assert ledger_balances(account_id=account.pk).available == 80_000 - 15_400
    assert PointEntry.objects.aggregate(low=Min("available_after"))["low"] >= 0


def test_when_the_rules_allow_many_a_day_the_balance_still_never_goes_below_zero(
    shopper, link, product, cart_for, carrier_points
):
    """Ten discounts a day allowed, points for two and a half: two orders get the full
    discount, the rest are told it changed; neither ledger goes negative."""
    TierRule.objects.filter(tier="VIP").update(uses_per_day=ORDERS)
    account = link(shopper, VIP, balance=38_500)  # 2.5 × ₩15,400
    carts = [cart_for(shopper, product) for _ in range(ORDERS)]

    outcomes = place_all(shopper, carts, 15_400)

    placed = [o for o in outcomes if isinstance(o, Order)]
    assert len(placed) == 2, outcomes
    assert all(isinstance(o, (Order, MembershipError)) for o in outcomes), outcomes
    assert sorted(o.discount_krw for o in placed) == [15_400, 15_400]
    member = carrier_points.state("carrier")["members"][VIP[0]]
    assert (member["balance"], member["held"], member["available"]) == (38_500, 30_800, 7_700)
    balances = ledger_balances(account_id=account.pk)
    assert (balances.available, balances.held) == (7_700, 30_800)
    assert PointEntry.objects.aggregate(low=Min("available_after"))["low"] >= 0
    assert sorted(PointHold.objects.filter(status="held").values_list("day_use", flat=True)) == [
        h.day_use for h in PointHold.objects.filter(status="held").order_by("day_use")
    ]
