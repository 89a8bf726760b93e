"""Carrier membership points (T membership style): linked carrier accounts, the tier rules
that turn points into a checkout discount, point holds for orders, the append-only points
ledger and the daily reconciliation with the carrier (docs/membership.md).

Points are money (1 point = ₩1), so what must never happen is a database constraint:
- one live link per shopper and per carrier member;
- a ledger entry's running balances never go negative (``available_after``, ``held_after``)
  and each account's entries are numbered without gaps or repeats (``sequence``);
- a hold is resolved (captured or released) at most once, a hold never refunds more than
  it captured, and each daily discount slot of a member is taken by one live hold;
- every call that changes points at the carrier has its idempotency key stored before the
  call, unique, so a retry can never apply a change twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

E164_KR_MOBILE_REGEX = r"^\+821[0-9][0-9]{7,8}$"


class Tier(models.TextChoices):
    VIP = "VIP", "VIP"
    GOLD = "GOLD", "GOLD"
    SILVER = "SILVER", "SILVER"


class TierRule(models.Model):
    """How a tier's points become a discount: ``rate`` × merchandise subtotal, at most
    ``cap_krw`` per order, at most ``uses_per_day`` orders per member per Seoul day, never
    more than the points available. Seeded from DOMAIN.md; staff edit them in admin."""

    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, unique=True)
    rate = models.DecimalField(
        _("discount rate"),
        max_digits=4,
        decimal_places=3,
        help_text=_("Share of the merchandise subtotal, e.g. 0.100 for 10%."),
    )
    cap_krw = models.PositiveIntegerField(_("cap per order (₩)"))
    uses_per_day = models.PositiveSmallIntegerField(_("orders per member per day"), default=1)
    is_active = models.BooleanField(_("discount offered"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-cap_krw", "tier"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=1), name="tier_rule_rate_0_to_1"
            ),
            models.CheckConstraint(condition=Q(uses_per_day__gte=1), name="tier_rule_uses_ge_1"),
        ]

    def __str__(self) -> str:
        return f"{self.tier}: {self.rate:.1%} up to ₩{self.cap_krw:,}"


class CarrierAccount(models.Model):
    """A shopper's link to their carrier membership, confirmed with a one-time code.

    ``tier`` and ``carrier_balance`` are what the carrier last reported (``synced_at``);
    what may be held for a discount comes from the ledger (``PointEntry``). Unlinking keeps
    the row (its ledger and holds stay) and sets ``unlinked_at``."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="carrier_accounts"
    )
    carrier = models.CharField(max_length=20, default="tmembership")
    member_ref = models.CharField(_("member reference"), max_length=40)
    phone = models.CharField(_("mobile phone"), max_length=16)
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    carrier_balance = models.PositiveIntegerField(_("carrier balance (points)"), default=0)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    linked_at = models.DateTimeField(_("linked"), auto_now_add=True)
    unlinked_at = models.DateTimeField(_("unlinked"), null=True, blank=True)

    class Meta:
        ordering = ["-linked_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(unlinked_at__isnull=True),
                name="carrier_account_one_live_link_per_customer",
            ),
            models.UniqueConstraint(
                fields=["carrier", "member_ref"],
                condition=Q(unlinked_at__isnull=True),
                name="carrier_account_one_live_link_per_member",
            ),
            models.CheckConstraint(
                condition=Q(phone__regex=E164_KR_MOBILE_REGEX), name="carrier_account_phone_e164"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_ref} ({self.tier})"

    @property
    def is_linked(self) -> bool:
        return self.unlinked_at is None


class PointHold(models.Model):
    """Points held at the carrier for one order's discount.

    ``pending``: the row (and its idempotency key) is stored, the carrier call is in flight
    or its answer was lost. ``held``: the carrier confirmed. ``captured``: the order was
    paid and the points spent. ``released``: given back (payment failed, unpaid order
    expired, cancelled before payment, or placement did not complete). ``voided``: the
    carrier never held them (refused, or the key was voided before it arrived).
    ``refunded_points`` grows with refunds after capture."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending at carrier")
        HELD = "held", _("Held")
        CAPTURED = "captured", _("Used")
        RELEASED = "released", _("Released")
        VOIDED = "voided", _("Not held")

    LIVE = (Status.PENDING, Status.HELD, Status.CAPTURED)

    account = models.ForeignKey(CarrierAccount, on_delete=models.PROTECT, related_name="holds")
    # The carrier member whose points these are: the daily limit is per member, whichever
    # shopper account the membership is linked to.
    member_ref = models.CharField(max_length=40)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        related_name="point_holds",
        null=True,
        blank=True,
        help_text=_("Empty until the order it pays for is placed."),
    )
    points = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=80, unique=True)
    carrier_hold_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    # The rule it was computed with, frozen.
    tier = models.CharField(max_length=10, choices=Tier.choices)
    rate = models.DecimalField(max_digits=4, decimal_places=3)
    cap_krw = models.PositiveIntegerField()
    merchandise_krw = models.PositiveIntegerField()
    # The Seoul day whose discount this hold uses, and which of the day's uses it is.
    discount_day = models.DateField()
    day_use = models.PositiveSmallIntegerField(default=1)
    expires_at = models.DateTimeField(help_text=_("When the carrier gives the points back."))
    refunded_points = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="point_hold_status_exp")]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="point_hold_points_positive"),
            models.CheckConstraint(
                condition=Q(refunded_points__lte=F("points")),
                name="point_hold_refund_within_points",
            ),
            models.CheckConstraint(
                condition=Q(refunded_points=0) | Q(status="captured"),
                name="point_hold_refund_only_after_capture",
            ),
            models.CheckConstraint(condition=Q(day_use__gte=1), name="point_hold_day_use_ge_1"),
            models.UniqueConstraint(
                fields=["member_ref", "discount_day", "day_use"],
                condition=Q(status__in=["pending", "held", "captured"]),
                name="point_hold_one_live_hold_per_daily_use",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["pending", "held", "captured"]),
                name="point_hold_one_live_hold_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.pk}: {self.points:,} points ({self.status})"

    @property
    def refundable_points(self) -> int:
        return self.points - self.refunded_points if self.status == self.Status.CAPTURED else 0


class PointEntry(models.Model):
    """One line of the append-only points ledger of an account.

    Each entry moves the account's running balances: ``available`` (points that may be
    held) and ``held`` (points on hold for orders). ``sync`` entries bring ``available`` in
    line with the carrier's balance (points earned or spent outside this store). Entries are
    numbered per account; the latest one carries the current balances. Entries that mirror a
    carrier transaction carry its id and the idempotency key of the call."""

    class Kind(models.TextChoices):
        SYNC = "sync", _("Balance from carrier")
        HOLD = "hold", _("Held for an order")
        CAPTURE = "capture", _("Used for an order")
        RELEASE = "release", _("Released")
        REFUND = "refund", _("Returned by a refund")

    account = models.ForeignKey(CarrierAccount, on_delete=models.PROTECT, related_name="entries")
    hold = models.ForeignKey(
        PointHold, on_delete=models.PROTECT, related_name="entries", null=True, blank=True
    )
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    points = models.IntegerField(help_text=_("Points this entry is about (positive)."))
    available_delta = models.IntegerField()
    held_delta = models.IntegerField()
    available_after = models.IntegerField()
    held_after = models.IntegerField()
    carrier_transaction_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    carrier_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the carrier recorded the transaction.")
    )
    idempotency_key = models.CharField(max_length=80, unique=True, null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id", "-sequence"]
        verbose_name_plural = "point entries"
        indexes = [models.Index(fields=["carrier_at"], name="point_entry_carrier_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "sequence"], name="point_entry_sequence_unique"
            ),
            models.CheckConstraint(
                condition=Q(available_after__gte=0), name="point_entry_available_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(held_after__gte=0), name="point_entry_held_not_negative"
            ),
            models.CheckConstraint(condition=Q(points__gte=0), name="point_entry_points_ge_0"),
            models.UniqueConstraint(
                fields=["hold"],
                condition=Q(kind__in=["capture", "release"]),
                name="point_entry_hold_resolved_once",
            ),
            models.UniqueConstraint(
                fields=["hold"], condition=Q(kind="hold"), name="point_entry_one_hold_entry"
            ),
            models.CheckConstraint(
                condition=Q(kind="sync") | Q(hold__isnull=False),
                name="point_entry_hold_kinds_name_hold",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}#{self.sequence} {self.kind} {self.points}"


class ReconciliationRun(models.Model):
    """One comparison of the local ledger with the carrier's transactions for one day."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        MATCHED = "matched", _("Matched")
        MISMATCHED = "mismatched", _("Mismatches found")
        FAILED = "failed", _("Could not run")

    day = models.DateField(_("day (Seoul)"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    carrier_count = models.PositiveIntegerField(default=0)
    local_count = models.PositiveIntegerField(default=0)
    mismatch_count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-day", "-started_at"]

    def __str__(self) -> str:
        return f"{self.day} ({self.status})"


class ReconciliationMismatch(models.Model):
    """A difference between the local ledger and the carrier, for staff to look into."""

    class Kind(models.TextChoices):
        MISSING_LOCALLY = "missing_locally", _("At the carrier, not in our ledger")
        MISSING_AT_CARRIER = "missing_at_carrier", _("In our ledger, not at the carrier")
        DIFFERENT = "different", _("Recorded differently")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="mismatches")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    carrier_transaction_id = models.CharField(max_length=80, blank=True, default="")
    entry = models.ForeignKey(
        PointEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="mismatches"
    )
    carrier_data = models.JSONField(default=dict, blank=True)
    detail = models.CharField(max_length=300)

    class Meta:
        ordering = ["run_id", "id"]
        verbose_name_plural = "reconciliation mismatches"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.carrier_transaction_id or self.entry_id}"
