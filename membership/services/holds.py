"""Point holds: hold at placement, capture at payment, release when the order will not be
paid, refund pro rata after capture.

Every carrier call carries an idempotency key derived from the hold's own key, which is
stored (with the hold row) before the first call: ``<key>`` for the hold, ``<key>-capture``,
``<key>-release``, ``<key>-void``, and ``<key>-refund-<id>`` for each refund of the order.
A retry after a timeout or a crash therefore never applies a change twice, and an answer
that was lost is found again:
the carrier replays it. Carrier calls happen outside our transactions (no row lock waits on
the network); what the carrier answered is then recorded in one transaction that locks the
account and the hold, so a duplicate answer finds the hold already moved on and records
nothing.

A hold whose fate is unknown (the carrier did not answer) stays ``pending`` and keeps its
daily slot and points until ``points_holds_sweep`` voids it at the carrier: a late hold is
then released, and one that never arrived can no longer arrive (the key is tombstoned).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import carrier_client
from ..carrier_client import CarrierHold
from ..errors import (
    CarrierNotLinked,
    MembershipError,
    PointsCarrierUnavailable,
    PointsChanged,
    PointsNotAvailable,
)
from ..models import CarrierAccount, PointEntry, PointHold
from ..selectors import OfferReason, discount_day, points_offer_for_account
from .ledger import entry_append

logger = logging.getLogger(__name__)

Status = PointHold.Status
Kind = PointEntry.Kind


class PointsRefundRefused(MembershipError):
    code = "points_refund_refused"


# --- placing a hold ------------------------------------------------------------------------


def points_hold(
    *,
    customer_id: int,
    merchandise_krw: int,
    expected_points: int | None,
    reference: str,
    expires_at: datetime.datetime,
    now: datetime.datetime | None = None,
) -> PointHold:
    """Hold the discount's points at the carrier for an order about to be placed.

    Computes the discount under the account's row lock (tier rule, daily limit, points not
    yet held), stores the hold with its idempotency key, then asks the carrier. Returns the
    ``held`` hold; the caller attaches it to the order (``points_hold_attach``) or gives it
    back (``points_hold_abandon``).

    Raises ``CarrierNotLinked``; ``PointsNotAvailable`` (no discount: used today, no
    points...); ``PointsChanged`` when the discount is not ``expected_points`` (what the
    shopper saw); ``PointsCarrierUnavailable`` when the carrier did not answer (the shopper
    may place the order without points; the hold, if it arrived, is voided now or by the
    sweep). After any of these no points are held.
    """
    with transaction.atomic():
        account = (
            CarrierAccount.objects.select_for_update()
            .filter(customer_id=customer_id, unlinked_at__isnull=True)
            .first()
        )
        if account is None:
            raise CarrierNotLinked(_("Link your carrier membership to use its points."))
        offer = points_offer_for_account(account=account, merchandise_krw=merchandise_krw, now=now)
        if offer.reason != OfferReason.OK:
            if expected_points:
                raise PointsChanged(offer.message, code="points_changed")
            raise PointsNotAvailable(offer.message, code=f"points_{offer.reason}")
        if expected_points is not None and expected_points != offer.points:
            raise PointsChanged(
                _("Your points discount changed from ₩%(old)s to ₩%(new)s. Please review it.")
                % {"old": f"{expected_points:,}", "new": f"{offer.points:,}"}
            )
        hold = PointHold.objects.create(
            account=account,
            member_ref=account.member_ref,
            points=offer.points,
            idempotency_key=f"pth-{uuid.uuid4().hex}",
            tier=offer.tier,
            rate=offer.rate,
            cap_krw=offer.cap_krw,
            merchandise_krw=merchandise_krw,
            discount_day=discount_day(now),
            day_use=offer.day_use,
            expires_at=expires_at,
        )
    try:
        carrier_hold = carrier_client.hold_create(
            member_ref=hold.member_ref,
            points=hold.points,
            reference=reference,
            expires_at=hold.expires_at,
            idempotency_key=hold.idempotency_key,
        )
    except carrier_client.CarrierRefused as exc:
        _hold_mark_voided(hold_id=hold.pk, error=f"refused: {exc.error}")
        if exc.error == "insufficient_points":
            # Our balance is out of date (points spent elsewhere): learn the carrier's, so
            # the next quote offers what is really there.
            _account_refresh_quietly(account_id=hold.account_id)
            raise PointsChanged(
                _(
                    "Your carrier balance has changed and no longer covers this discount. "
                    "Review the order and place it again."
                )
            ) from exc
        raise PointsNotAvailable(
            _("The carrier refused to hold your points. You can order without them."),
            code="points_refused",
        ) from exc
    except carrier_client.CarrierUnavailable as exc:
        _hold_attempt_failed(hold_id=hold.pk, error=str(exc))
        try:
            _hold_void(hold_id=hold.pk)
        except (carrier_client.CarrierError, PointsCarrierUnavailable):
            logger.warning("hold %s left pending; the sweep will void it", hold.pk)
        raise PointsCarrierUnavailable(
            _(
                "The carrier's points service is not answering, so your points could not be "
                "used. You can place the order without points, or try again in a moment."
            )
        ) from exc
    return _record(hold_id=hold.pk, carrier_hold=carrier_hold)


def points_hold_attach(*, hold_id: int, order_id: int) -> PointHold:
    """Tie a held hold to the order it pays for (inside the order's placement transaction).
    Raises ``PointsChanged`` when the hold is no longer held (the sweep released it)."""
    with transaction.atomic():
        hold = PointHold.objects.select_for_update().get(pk=hold_id)
        if hold.status != Status.HELD or hold.order_id not in (None, order_id):
            raise PointsChanged(_("Your points are no longer held. Please review the order."))
        hold.order_id = order_id
        hold.save(update_fields=["order", "updated_at"])
    return hold


def points_hold_abandon(*, hold_id: int, reason: str) -> PointHold:
    """The order this hold was for was not placed: give the points back now. When the
    carrier does not answer the hold is left for the sweep (never raises for that)."""
    try:
        return _hold_release_or_void(hold_id=hold_id, note=reason)
    except PointsCarrierUnavailable:
        logger.warning("hold %s not released (%s); the sweep will retry", hold_id, reason)
        return PointHold.objects.get(pk=hold_id)


# --- settling a hold -----------------------------------------------------------------------


def points_capture(*, order_id: int) -> list[PointHold]:
    """The order is paid: capture its held points. Idempotent. Raises
    ``PointsCarrierUnavailable`` (the caller retries) when the carrier does not answer."""
    holds = []
    for hold in PointHold.objects.filter(order_id=order_id, status=Status.HELD):
        holds.append(_hold_capture(hold_id=hold.pk))
    return holds


def points_release(*, order_id: int, reason: str) -> list[PointHold]:
    """The order will not be paid (expired, cancelled before payment): give its points
    back. Captured holds are left alone (refunds return those). Idempotent. Raises
    ``PointsCarrierUnavailable`` when the carrier does not answer."""
    holds = []
    for hold in PointHold.objects.filter(
        order_id=order_id, status__in=[Status.PENDING, Status.HELD]
    ):
        holds.append(_hold_release_or_void(hold_id=hold.pk, note=reason))
    return holds


def points_refund(*, order_id: int, reference: str, points: int) -> PointHold | None:
    """Return ``points`` of the order's captured points to the member, once per
    ``reference`` (a refund of the order). Returns the hold, or None when the order used no
    points. Raises ``PointsCarrierUnavailable`` (retry) or ``PointsRefundRefused``."""
    hold = PointHold.objects.filter(order_id=order_id, status=Status.CAPTURED).first()
    if hold is None or points <= 0:
        return hold
    key = f"{hold.idempotency_key}-{reference}"
    if PointEntry.objects.filter(idempotency_key=key).exists():
        return hold
    points = min(points, hold.points - hold.refunded_points)
    if points <= 0:
        return hold
    try:
        refund = carrier_client.refund_create(
            hold_id=hold.carrier_hold_id, points=points, reference=reference, idempotency_key=key
        )
    except carrier_client.CarrierRefused as exc:
        _hold_attempt_failed(hold_id=hold.pk, error=f"refund refused: {exc.error}")
        raise PointsRefundRefused(
            f"carrier refused refund {reference} of {points} points: {exc.error}"
        ) from exc
    except carrier_client.CarrierUnavailable as exc:
        _hold_attempt_failed(hold_id=hold.pk, error=f"refund: {exc}")
        raise PointsCarrierUnavailable(str(exc)) from exc
    with transaction.atomic():
        CarrierAccount.objects.select_for_update().get(pk=hold.account_id)
        hold = PointHold.objects.select_for_update().get(pk=hold.pk)
        if PointEntry.objects.filter(idempotency_key=key).exists():
            return hold  # a duplicate answer: recorded already
        entry_append(
            account=hold.account,
            kind=Kind.REFUND,
            points=refund.points,
            available_delta=refund.points,
            held_delta=0,
            hold=hold,
            carrier_transaction_id=refund.transaction.transaction_id,
            carrier_at=refund.transaction.created_at,
            idempotency_key=key,
            note=f"refund {reference}",
        )
        hold.refunded_points += refund.points
        hold.last_error = ""
        hold.save(update_fields=["refunded_points", "last_error", "updated_at"])
    return hold


def points_hold_settle(*, hold_id: int, now: datetime.datetime | None = None) -> PointHold:
    """Bring one hold to where its order says it should be (the sweep and staff's retry):
    paid order → capture; cancelled or never placed → release (void when pending); an
    unpaid order still in its window → nothing. Raises ``PointsCarrierUnavailable``."""
    now = now or timezone.now()
    hold = PointHold.objects.select_related("order").get(pk=hold_id)
    if hold.status not in (Status.PENDING, Status.HELD):
        return hold
    order = hold.order
    if order is None:
        orphan_after = datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES)
        if hold.created_at > now - orphan_after:
            return hold  # its placement may still be running
        return _hold_release_or_void(hold_id=hold.pk, note="order never placed")
    if order.status == "pending_payment":
        return hold
    if order.paid_at is not None and hold.status == Status.HELD:
        return _hold_capture(hold_id=hold.pk)
    return _hold_release_or_void(hold_id=hold.pk, note=f"order {order.status}")


def points_holds_sweep(*, now: datetime.datetime | None = None, batch_size: int = 100) -> int:
    """Settle holds that outlived what should have settled them (a lost event, a carrier
    that was down): returns how many changed. Safe to run any time, from beat."""
    now = now or timezone.now()
    orphan_before = now - datetime.timedelta(minutes=settings.POINTS_HOLD_ORPHAN_MINUTES)
    candidates = list(
        PointHold.objects.filter(status__in=[Status.PENDING, Status.HELD])
        .exclude(order__status="pending_payment")
        .filter(created_at__lt=orphan_before)
        .order_by("id")
        .values_list("id", "status")[:batch_size]
    )
    changed = 0
    for hold_id, status in candidates:
        try:
            if points_hold_settle(hold_id=hold_id, now=now).status != status:
                changed += 1
        except (PointsCarrierUnavailable, MembershipError) as exc:
            logger.warning("could not settle hold %s: %s", hold_id, exc)
    return changed


# --- carrier calls per hold ----------------------------------------------------------------


def _carrier_settle(
    *, hold: PointHold, step: str, call: Callable[[], CarrierHold | None]
) -> CarrierHold | None:
    """Send one settling call (capture, release, void) for ``hold``. A refusal that names
    the hold's state at the carrier is an answer (returned, to be recorded); any other
    refusal, and no answer at all, is recorded on the hold and raised as
    ``PointsCarrierUnavailable`` for the caller (relay, sweep, staff) to retry."""
    try:
        return call()
    except carrier_client.CarrierRefused as exc:
        if exc.hold is None:
            _hold_attempt_failed(hold_id=hold.pk, error=f"{step} refused: {exc.error}")
            raise PointsCarrierUnavailable(f"{step} of hold {hold.pk}: {exc.error}") from exc
        return exc.hold
    except carrier_client.CarrierUnavailable as exc:
        _hold_attempt_failed(hold_id=hold.pk, error=f"{step}: {exc}")
        raise PointsCarrierUnavailable(str(exc)) from exc


def _hold_capture(*, hold_id: int) -> PointHold:
    hold = PointHold.objects.get(pk=hold_id)
    if hold.status != Status.HELD:
        return hold
    carrier_hold = _carrier_settle(
        hold=hold,
        step="capture",
        call=lambda: carrier_client.hold_capture(
            hold_id=hold.carrier_hold_id, idempotency_key=f"{hold.idempotency_key}-capture"
        ),
    )
    if carrier_hold.status != "captured":
        # Released or expired at the carrier before we captured: the order kept its
        # discount but the points came back to the member. Recorded for staff.
        logger.error("hold %s was %s at the carrier before capture", hold.pk, carrier_hold.status)
        _hold_attempt_failed(
            hold_id=hold.pk, error=f"carrier {carrier_hold.status} the hold before capture"
        )
    return _record(hold_id=hold.pk, carrier_hold=carrier_hold)


def _hold_release_or_void(*, hold_id: int, note: str) -> PointHold:
    hold = PointHold.objects.get(pk=hold_id)
    if hold.status == Status.PENDING:
        return _hold_void(hold_id=hold.pk)
    if hold.status != Status.HELD:
        return hold
    # A hold captured meanwhile comes back as such and is recorded as captured.
    carrier_hold = _carrier_settle(
        hold=hold,
        step="release",
        call=lambda: carrier_client.hold_release(
            hold_id=hold.carrier_hold_id, idempotency_key=f"{hold.idempotency_key}-release"
        ),
    )
    logger.info("hold %s released: %s", hold.pk, note)
    return _record(hold_id=hold.pk, carrier_hold=carrier_hold)


def _hold_void(*, hold_id: int) -> PointHold:
    """Make sure a hold whose creation has no known outcome is not (or no longer) held."""
    hold = PointHold.objects.get(pk=hold_id)
    carrier_hold = _carrier_settle(
        hold=hold,
        step="void",
        call=lambda: carrier_client.hold_void(
            hold_key=hold.idempotency_key, idempotency_key=f"{hold.idempotency_key}-void"
        ),
    )
    if carrier_hold is None:
        return _hold_mark_voided(hold_id=hold.pk, error="")
    return _record(hold_id=hold.pk, carrier_hold=carrier_hold)


# --- recording what the carrier said -------------------------------------------------------


def _record(*, hold_id: int, carrier_hold: CarrierHold) -> PointHold:
    """Record the carrier's view of a hold in the ledger, in one transaction: the entries
    for every step it took that we have not recorded (hold, then capture or release).
    A step recorded already is skipped, so duplicates and replays change nothing."""
    with transaction.atomic():
        hold = PointHold.objects.get(pk=hold_id)
        account = CarrierAccount.objects.select_for_update().get(pk=hold.account_id)
        hold = PointHold.objects.select_for_update().get(pk=hold_id)
        now = timezone.now()
        if hold.status == Status.PENDING:
            txn = carrier_hold.transaction("hold")
            entry_append(
                account=account,
                kind=Kind.HOLD,
                points=hold.points,
                available_delta=-hold.points,
                held_delta=hold.points,
                hold=hold,
                carrier_transaction_id=txn.transaction_id if txn else None,
                carrier_at=txn.created_at if txn else None,
                idempotency_key=hold.idempotency_key,
                note=f"hold for {carrier_hold.reference}"[:200],
            )
            hold.status = Status.HELD
            hold.carrier_hold_id = carrier_hold.hold_id
        if hold.status == Status.HELD and carrier_hold.status == "captured":
            txn = carrier_hold.transaction("capture")
            entry_append(
                account=account,
                kind=Kind.CAPTURE,
                points=hold.points,
                available_delta=0,
                held_delta=-hold.points,
                hold=hold,
                carrier_transaction_id=txn.transaction_id if txn else None,
                carrier_at=txn.created_at if txn else None,
                idempotency_key=txn.idempotency_key if txn else None,
            )
            hold.status = Status.CAPTURED
            hold.resolved_at = now
        elif hold.status == Status.HELD and carrier_hold.status in ("released", "expired"):
            txn = carrier_hold.transaction("release")
            entry_append(
                account=account,
                kind=Kind.RELEASE,
                points=hold.points,
                available_delta=hold.points,
                held_delta=-hold.points,
                hold=hold,
                carrier_transaction_id=txn.transaction_id if txn else None,
                carrier_at=txn.created_at if txn else None,
                idempotency_key=txn.idempotency_key if txn else None,
                note="expired at the carrier" if carrier_hold.status == "expired" else "",
            )
            hold.status = Status.RELEASED
            hold.resolved_at = now
        if hold.status in (Status.CAPTURED, Status.RELEASED) and not hold.last_error.startswith(
            "carrier"
        ):
            hold.last_error = ""
        hold.save()
    return hold


def _account_refresh_quietly(*, account_id: int) -> None:
    from .accounts import carrier_account_refresh

    try:
        carrier_account_refresh(account_id=account_id)
    except PointsCarrierUnavailable:
        logger.info("balance of carrier account %s not refreshed: carrier down", account_id)


def _hold_mark_voided(*, hold_id: int, error: str) -> PointHold:
    with transaction.atomic():
        hold = PointHold.objects.select_for_update().get(pk=hold_id)
        if hold.status == Status.PENDING:
            hold.status = Status.VOIDED
            hold.resolved_at = timezone.now()
            hold.last_error = error[:300]
            hold.save(update_fields=["status", "resolved_at", "last_error", "updated_at"])
    return hold


def _hold_attempt_failed(*, hold_id: int, error: str) -> None:
    with transaction.atomic():
        hold = PointHold.objects.select_for_update().get(pk=hold_id)
        hold.attempts += 1
        hold.last_error = error[:300]
        hold.save(update_fields=["attempts", "last_error", "updated_at"])
