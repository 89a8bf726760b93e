"""Reads of the membership app: the shopper's linked account, their points history and the
discount an order may get (``points_offer``), computed by the same rules ``points_hold``
applies under the account lock."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import CarrierAccount, PointEntry, PointHold, TierRule
from .services.ledger import ledger_balances

SEOUL = ZoneInfo("Asia/Seoul")


class OfferReason:
    OK = "ok"
    NOT_LINKED = "not_linked"
    NO_RULE = "no_rule"
    USED_TODAY = "used_today"
    NO_POINTS = "no_points"
    NOTHING_TO_DISCOUNT = "nothing_to_discount"


@dataclass(frozen=True)
class PointsOffer:
    """What the shopper's points can take off this order. ``points`` (= won) is 0 with a
    ``reason`` when nothing can be used; ``day_use`` is the daily slot a hold would take."""

    reason: str
    points: int = 0
    account_id: int | None = None
    member_ref: str = ""
    tier: str = ""
    rate: Decimal = Decimal(0)
    cap_krw: int = 0
    uses_per_day: int = 1
    holdable: int = 0
    merchandise_krw: int = 0
    day_use: int = 0

    @property
    def linked(self) -> bool:
        return self.reason != OfferReason.NOT_LINKED

    @property
    def message(self) -> str:
        """Why there is no discount, in the shopper's words (empty when there is one)."""
        return {
            OfferReason.OK: "",
            OfferReason.NOT_LINKED: _("Link your carrier membership to use its points."),
            OfferReason.NO_RULE: _("Your membership tier has no discount at the moment."),
            OfferReason.USED_TODAY: _(
                "You have already used your membership discount today. It is back tomorrow."
            ),
            OfferReason.NO_POINTS: _("You have no membership points to use."),
            OfferReason.NOTHING_TO_DISCOUNT: _("There is nothing to discount in this order."),
        }[self.reason]


def discount_day(now: datetime.datetime | None = None) -> datetime.date:
    """The Seoul calendar day a discount counts against."""
    return timezone.localtime(now or timezone.now(), SEOUL).date()


def carrier_account_for_customer(*, customer_id: int) -> CarrierAccount | None:
    """The shopper's live (linked) carrier account, or None."""
    return CarrierAccount.objects.filter(customer_id=customer_id, unlinked_at__isnull=True).first()


def holdable_points(*, account_id: int) -> int:
    """Points that may still be held: the ledger's available balance less the holds still
    in flight at the carrier (not yet in the ledger)."""
    pending = (
        PointHold.objects.filter(account_id=account_id, status=PointHold.Status.PENDING).aggregate(
            total=Sum("points")
        )["total"]
        or 0
    )
    return max(0, ledger_balances(account_id=account_id).available - pending)


def discount_points(*, rate: Decimal, cap_krw: int, merchandise_krw: int, holdable: int) -> int:
    """Tier rate × merchandise subtotal, rounded down to the won, capped per order and by
    the points that may be held."""
    by_rate = int((rate * merchandise_krw).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(by_rate, cap_krw, holdable))


def points_offer_for_account(
    *, account: CarrierAccount, merchandise_krw: int, now: datetime.datetime | None = None
) -> PointsOffer:
    """The offer for a linked account (``points_hold`` calls it with the row locked)."""
    rule = TierRule.objects.filter(tier=account.tier, is_active=True).first()
    base = {"account_id": account.pk, "member_ref": account.member_ref, "tier": account.tier}
    if rule is None:
        return PointsOffer(reason=OfferReason.NO_RULE, **base)
    base.update(
        rate=rule.rate,
        cap_krw=rule.cap_krw,
        uses_per_day=rule.uses_per_day,
        merchandise_krw=merchandise_krw,
    )
    taken = set(
        PointHold.objects.filter(
            member_ref=account.member_ref,
            discount_day=discount_day(now),
            status__in=PointHold.LIVE,
        ).values_list("day_use", flat=True)
    )
    free = [use for use in range(1, rule.uses_per_day + 1) if use not in taken]
    if not free:
        return PointsOffer(reason=OfferReason.USED_TODAY, **base)
    holdable = holdable_points(account_id=account.pk)
    base.update(holdable=holdable, day_use=free[0])
    if holdable <= 0:
        return PointsOffer(reason=OfferReason.NO_POINTS, **base)
    points = discount_points(
        rate=rule.rate, cap_krw=rule.cap_krw, merchandise_krw=merchandise_krw, holdable=holdable
    )
    if points <= 0:
        return PointsOffer(reason=OfferReason.NOTHING_TO_DISCOUNT, **base)
    return PointsOffer(reason=OfferReason.OK, points=points, **base)


def points_offer(
    *, customer_id: int | None, merchandise_krw: int, now: datetime.datetime | None = None
) -> PointsOffer:
    """The discount the shopper's points give on ``merchandise_krw`` right now."""
    account = carrier_account_for_customer(customer_id=customer_id) if customer_id else None
    if account is None:
        return PointsOffer(reason=OfferReason.NOT_LINKED)
    return points_offer_for_account(account=account, merchandise_krw=merchandise_krw, now=now)


def points_history(*, customer_id: int, limit: int = 50) -> QuerySet[PointEntry]:
    """The shopper's ledger entries (every account they linked), newest first, with the
    order each is about."""
    return (
        PointEntry.objects.filter(account__customer_id=customer_id)
        .select_related("hold__order", "account")
        .order_by("-created_at", "-id")[:limit]
    )


def holds_for_order(*, order_id: int) -> QuerySet[PointHold]:
    return PointHold.objects.filter(order_id=order_id).order_by("id")
