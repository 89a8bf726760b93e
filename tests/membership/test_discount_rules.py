"""The discount rules (DOMAIN.md, carrier membership points): tier rate × merchandise
subtotal, rounded down to the won, capped per tier, limited by the points that may be held,
once per member per Seoul day; all from the admin-editable ``TierRule`` rows seeded by the
migration."""

from __future__ import annotations

import datetime
import importlib
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from membership.models import CarrierAccount, PointEntry, PointHold, TierRule
from membership.selectors import (
    OfferReason,
    discount_day,
    discount_points,
    holdable_points,
    points_offer,
)
from membership.services.ledger import entry_append

pytestmark = pytest.mark.django_db

NOON_SEOUL = datetime.datetime(
    2026, 11, 28, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9))
)


def account_with(customer, *, tier: str, available: int, member_ref: str = "TM9000000001"):
    account = CarrierAccount.objects.create(
        customer=customer, member_ref=member_ref, phone="+821012345678", tier=tier
    )
    with transaction.atomic():
        CarrierAccount.objects.select_for_update().get(pk=account.pk)
        entry_append(
            account=account,
            kind=PointEntry.Kind.SYNC,
            points=available,
            available_delta=available,
            held_delta=0,
        )
    return account


def live_hold(account, *, points=1000, day=None, status=PointHold.Status.CAPTURED, day_use=1):
    return PointHold.objects.create(
        account=account,
        member_ref=account.member_ref,
        points=points,
        status=status,
        idempotency_key=f"test-{PointHold.objects.count()}-{account.pk}-{day_use}-{status}",
        tier=account.tier,
        rate=Decimal("0.1"),
        cap_krw=50_000,
        merchandise_krw=points * 10,
        discount_day=day or discount_day(NOON_SEOUL),
        day_use=day_use,
        expires_at=NOON_SEOUL + datetime.timedelta(hours=3),
    )


def test_the_migration_seeds_the_tiers_of_domain_md():
    """Run the data migration's own function on an empty table (the autouse fixture seeds
    the same rows for the other tests, so look at what the migration writes)."""
    from django.apps import apps

    migration = importlib.import_module("membership.migrations.0002_seed_tier_rules")
    TierRule.objects.all().delete()
    migration.seed(apps, None)
    migration.seed(apps, None)  # running it again adds nothing
    rules = {r.tier: (r.rate, r.cap_krw, r.uses_per_day) for r in TierRule.objects.all()}
    assert rules == {
        "VIP": (Decimal("0.100"), 50_000, 1),
        "GOLD": (Decimal("0.100"), 30_000, 1),
        "SILVER": (Decimal("0.050"), 10_000, 1),
    }


@pytest.mark.parametrize(
    ("tier", "merchandise", "expected"),
    [
        ("VIP", 300_000, 30_000),  # 10%
        ("VIP", 800_000, 50_000),  # capped at ₩50,000
        ("GOLD", 250_000, 25_000),  # 10%
        ("GOLD", 400_000, 30_000),  # capped at ₩30,000
        ("SILVER", 100_000, 5_000),  # 5%
        ("SILVER", 500_000, 10_000),  # capped at ₩10,000
    ],
)
def test_each_tier_gets_its_rate_up_to_its_cap(shopper, tier, merchandise, expected):
    account_with(shopper, tier=tier, available=1_000_000)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=merchandise, now=NOON_SEOUL)
    assert offer.reason == OfferReason.OK
    assert offer.points == expected
    assert offer.tier == tier


def test_the_discount_never_exceeds_the_points_available(shopper):
    account_with(shopper, tier="SILVER", available=3_000)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=500_000, now=NOON_SEOUL)
    assert offer.points == 3_000
    assert offer.holdable == 3_000


def test_rounding_is_down_to_the_whole_won():
    assert (
        discount_points(
            rate=Decimal("0.050"), cap_krw=10_000, merchandise_krw=12_345, holdable=10**6
        )
        == 617
    )  # 617.25
    assert (
        discount_points(
            rate=Decimal("0.100"), cap_krw=50_000, merchandise_krw=19_999, holdable=10**6
        )
        == 1_999
    )  # 1,999.9 never rounds up to money the rule does not give


def test_holds_in_flight_count_against_what_may_be_held(shopper):
    account = account_with(shopper, tier="VIP", available=40_000)
    live_hold(
        account, points=15_000, status=PointHold.Status.PENDING, day=datetime.date(2026, 1, 1)
    )
    assert holdable_points(account_id=account.pk) == 25_000


def test_once_per_member_per_day(shopper):
    account = account_with(shopper, tier="VIP", available=100_000)
    live_hold(account, points=10_000, status=PointHold.Status.CAPTURED)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=300_000, now=NOON_SEOUL)
    assert offer.reason == OfferReason.USED_TODAY
    assert offer.points == 0
    assert "today" in offer.message or "오늘" in offer.message


def test_a_released_hold_gives_the_day_back(shopper):
    account = account_with(shopper, tier="VIP", available=100_000)
    live_hold(account, points=10_000, status=PointHold.Status.RELEASED)
    live_hold(account, points=10_000, status=PointHold.Status.VOIDED)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=300_000, now=NOON_SEOUL)
    assert offer.reason == OfferReason.OK
    assert offer.points == 30_000


def test_the_day_is_the_seoul_calendar_day(shopper):
    account = account_with(shopper, tier="VIP", available=100_000)
    live_hold(account, day=datetime.date(2026, 11, 27))
    # 23:30 UTC on the 27th is 08:30 on the 28th in Seoul: a new day there.
    late_utc = datetime.datetime(2026, 11, 27, 23, 30, tzinfo=datetime.UTC)
    assert discount_day(late_utc) == datetime.date(2026, 11, 28)
    assert points_offer(customer_id=shopper.pk, merchandise_krw=100_000, now=late_utc).points
    early_utc = datetime.datetime(2026, 11, 27, 14, 0, tzinfo=datetime.UTC)  # 23:00 the 27th
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=100_000, now=early_utc)
    assert offer.reason == OfferReason.USED_TODAY


def test_the_day_belongs_to_the_member_not_the_shopper_account(shopper, make_shopper):
    """Unlinking and linking the membership to another login does not give a second
    discount the same day."""
    first = account_with(shopper, tier="VIP", available=100_000)
    live_hold(first)
    first.unlinked_at = timezone.now()
    first.save()
    other = make_shopper()
    account_with(other, tier="VIP", available=100_000, member_ref=first.member_ref)
    offer = points_offer(customer_id=other.pk, merchandise_krw=300_000, now=NOON_SEOUL)
    assert offer.reason == OfferReason.USED_TODAY


def test_staff_can_allow_more_uses_per_day(shopper):
    account = account_with(shopper, tier="GOLD", available=100_000)
    live_hold(account)
    TierRule.objects.filter(tier="GOLD").update(uses_per_day=2)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=100_000, now=NOON_SEOUL)
    assert (offer.reason, offer.points, offer.day_use) == (OfferReason.OK, 10_000, 2)


def test_edited_rates_and_caps_apply_at_once(shopper):
    account_with(shopper, tier="SILVER", available=100_000)
    TierRule.objects.filter(tier="SILVER").update(rate=Decimal("0.080"), cap_krw=6_000)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=50_000, now=NOON_SEOUL)
    assert offer.points == 4_000
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=100_000, now=NOON_SEOUL)
    assert offer.points == 6_000


def test_an_inactive_rule_gives_no_discount(shopper):
    account_with(shopper, tier="VIP", available=100_000)
    TierRule.objects.filter(tier="VIP").update(is_active=False)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=100_000, now=NOON_SEOUL)
    assert (offer.reason, offer.points) == (OfferReason.NO_RULE, 0)


def test_no_points_and_not_linked(shopper, make_shopper):
    account_with(shopper, tier="VIP", available=0)
    offer = points_offer(customer_id=shopper.pk, merchandise_krw=100_000, now=NOON_SEOUL)
    assert (offer.reason, offer.points) == (OfferReason.NO_POINTS, 0)
    stranger = make_shopper()
    offer = points_offer(customer_id=stranger.pk, merchandise_krw=100_000, now=NOON_SEOUL)
    assert (offer.reason, offer.linked, offer.points) == (OfferReason.NOT_LINKED, False, 0)


def test_the_database_refuses_two_live_holds_in_one_daily_slot(shopper):
    account = account_with(shopper, tier="VIP", available=100_000)
    live_hold(account, status=PointHold.Status.HELD)
    with pytest.raises(IntegrityError), transaction.atomic():
        live_hold(account, status=PointHold.Status.PENDING)
    assert PointHold.objects.count() == 1


def test_the_ledger_refuses_a_negative_balance(shopper):
    account = account_with(shopper, tier="VIP", available=1_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        entry_append(
            account=account,
            kind=PointEntry.Kind.SYNC,
            points=1_001,
            available_delta=-1_001,
            held_delta=0,
        )
    assert PointEntry.objects.filter(account=account).count() == 1


def test_the_ledger_refuses_a_hold_resolved_twice(shopper):
    account = account_with(shopper, tier="VIP", available=10_000)
    hold = live_hold(account, status=PointHold.Status.HELD, points=1_000)
    with transaction.atomic():
        entry_append(
            account=account,
            kind="hold",
            points=1_000,
            available_delta=-1_000,
            held_delta=1_000,
            hold=hold,
        )
        entry_append(
            account=account,
            kind="capture",
            points=1_000,
            available_delta=0,
            held_delta=-1_000,
            hold=hold,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        entry_append(
            account=account,
            kind="release",
            points=1_000,
            available_delta=1_000,
            held_delta=-1_000,
            hold=hold,
        )
    assert list(
        PointEntry.objects.filter(hold=hold).values_list("kind", flat=True).order_by("sequence")
    ) == ["hold", "capture"]


def test_ledger_entries_cannot_be_changed(shopper):
    """Append-only in the database itself: an UPDATE is refused whatever code sends it."""
    account = account_with(shopper, tier="VIP", available=1_000)
    entry = PointEntry.objects.get(account=account)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        PointEntry.objects.filter(pk=entry.pk).update(available_after=5_000)
    entry.refresh_from_db()
    assert entry.available_after == 1_000


@pytest.mark.postgres
def test_ledger_entries_cannot_be_deleted_on_postgresql(shopper):
    account = account_with(shopper, tier="VIP", available=1_000)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        PointEntry.objects.filter(account=account).delete()
    assert PointEntry.objects.filter(account=account).count() == 1
