"""Linking a shopper's carrier membership (phone → one-time code → linked), unlinking, and
bringing the local ledger in line with the carrier's balance."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.phones import phone_mask, phone_normalize

from .. import carrier_client
from ..errors import CarrierLinkRefused, PointsCarrierUnavailable
from ..models import CarrierAccount, PointEntry, PointHold
from .ledger import entry_append, ledger_balances

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkChallenge:
    """A one-time code was sent to ``phone`` (E.164); confirm it with ``challenge_id``."""

    challenge_id: str
    phone: str
    expires_at: object
    resend_after_seconds: int


def _carrier_down() -> PointsCarrierUnavailable:
    return PointsCarrierUnavailable(
        _("The carrier's membership service is not answering. Please try again in a moment.")
    )


def carrier_link_start(*, customer_id: int, phone: str) -> LinkChallenge:
    """Ask the carrier to text a one-time code to ``phone``. Raises ``PhoneInvalid`` for a
    number that is not a Korean mobile, ``CarrierLinkRefused`` when the carrier has no
    membership for it or sent too many codes, ``PointsCarrierUnavailable`` when it is down."""
    e164 = phone_normalize(phone)
    try:
        challenge = carrier_client.otp_send(
            phone_e164=e164, idempotency_key=f"otp-{customer_id}-{uuid.uuid4().hex}"
        )
    except carrier_client.CarrierRefused as exc:
        if exc.error == "not_a_member":
            message = _("This number has no carrier membership. Check the number.")
        elif exc.error == "too_many_codes":
            message = _("Too many codes were sent to this number. Try again in 10 minutes.")
        else:
            message = _("The carrier could not send a code to this number.")
        raise CarrierLinkRefused(message, fields={"phone": message}) from exc
    except carrier_client.CarrierUnavailable as exc:
        raise _carrier_down() from exc
    logger.info("carrier code sent to %s for customer %s", phone_mask(e164), customer_id)
    return LinkChallenge(
        challenge_id=challenge.challenge_id,
        phone=e164,
        expires_at=challenge.expires_at,
        resend_after_seconds=challenge.resend_after_seconds,
    )


def carrier_link_confirm(
    *, customer_id: int, challenge_id: str, phone: str, code: str
) -> CarrierAccount:
    """Confirm the code and link the membership to the shopper (replacing a previous link).
    The ledger starts with the carrier's available balance. Raises ``CarrierLinkRefused``
    (wrong or expired code, membership linked to someone else) or
    ``PointsCarrierUnavailable``; nothing is linked then."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        message = _("Enter the 6-digit code from the text message.")
        raise CarrierLinkRefused(message, fields={"code": message})
    try:
        member = carrier_client.otp_verify(challenge_id=challenge_id, code=code)
    except carrier_client.CarrierRefused as exc:
        if exc.error == "code_mismatch":
            left = int(exc.body.get("attempts_left") or 0)
            message = _("The code is not right. %(left)d tries left.") % {"left": left}
        elif exc.error == "too_many_attempts":
            message = _("Too many wrong codes. Request a new code.")
        else:  # code_expired, unknown_challenge
            message = _("The code has expired. Request a new code.")
        raise CarrierLinkRefused(message, fields={"code": message}) from exc
    except carrier_client.CarrierUnavailable as exc:
        raise _carrier_down() from exc
    if member.phone != phone:
        message = _("The code was sent to a different number. Start again.")
        raise CarrierLinkRefused(message, fields={"code": message})

    now = timezone.now()
    try:
        with transaction.atomic():
            current = (
                CarrierAccount.objects.select_for_update()
                .filter(customer_id=customer_id, unlinked_at__isnull=True)
                .first()
            )
            if current is not None and current.member_ref == member.member_ref:
                account = current
            else:
                if current is not None:
                    current.unlinked_at = now
                    current.save(update_fields=["unlinked_at"])
                account = CarrierAccount.objects.create(
                    customer_id=customer_id,
                    member_ref=member.member_ref,
                    phone=member.phone,
                    tier=member.tier,
                )
            account = CarrierAccount.objects.select_for_update().get(pk=account.pk)
            _account_sync(account=account, member=member, now=now)
    except IntegrityError as exc:
        message = _("This membership is already linked to another Global Store account.")
        raise CarrierLinkRefused(message, fields={"code": message}) from exc
    logger.info("customer %s linked carrier member %s", customer_id, member.member_ref)
    return account


def carrier_unlink(*, customer_id: int) -> bool:
    """Unlink the shopper's membership. Holds already made still settle (their orders keep
    their discount). Returns False when nothing was linked."""
    with transaction.atomic():
        updated = CarrierAccount.objects.filter(
            customer_id=customer_id, unlinked_at__isnull=True
        ).update(unlinked_at=timezone.now())
    return bool(updated)


def carrier_account_refresh(*, account_id: int) -> CarrierAccount:
    """Ask the carrier for the member's tier and balance and record it. The ledger gets a
    ``sync`` entry when the carrier's available balance differs from ours, but only when no
    hold is in flight and no entry was written while we asked (otherwise the next refresh
    does it). Raises ``PointsCarrierUnavailable``."""
    account = CarrierAccount.objects.get(pk=account_id)
    before = (
        PointEntry.objects.filter(account_id=account_id)
        .order_by("-sequence")
        .values_list("sequence", flat=True)
    ).first() or 0
    try:
        member = carrier_client.member_get(member_ref=account.member_ref)
    except carrier_client.CarrierUnavailable as exc:
        raise _carrier_down() from exc
    with transaction.atomic():
        account = CarrierAccount.objects.select_for_update().get(pk=account_id)
        latest = (
            PointEntry.objects.filter(account_id=account_id)
            .order_by("-sequence")
            .values_list("sequence", flat=True)
            .first()
        ) or 0
        in_flight = PointHold.objects.filter(
            account_id=account_id, status=PointHold.Status.PENDING
        ).exists()
        if latest == before and not in_flight:
            _account_sync(account=account, member=member, now=timezone.now())
        else:
            account.tier = member.tier
            account.save(update_fields=["tier"])
    return account


def _account_sync(*, account: CarrierAccount, member, now) -> None:
    """Record the carrier's view of the member (account row locked by the caller)."""
    account.tier = member.tier
    account.carrier_balance = member.balance
    account.synced_at = now
    account.save(update_fields=["tier", "carrier_balance", "synced_at"])
    balances = ledger_balances(account_id=account.pk)
    delta = member.available - balances.available
    if delta:
        entry_append(
            account=account,
            kind=PointEntry.Kind.SYNC,
            points=abs(delta),
            available_delta=delta,
            held_delta=0,
            note=f"carrier balance {member.balance}, held {member.held}",
        )
