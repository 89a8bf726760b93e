"""Payments: the Stripe PaymentIntent of an order, webhook events, reconciliation, expiry,
cancellation and refunds.

Stripe's webhook is the source of truth for payment state; every handler here is safe to
run twice and in any order, because it looks at the state it would move from (a succeeded
payment is never un-paid by a late ``payment_failed``) and each event id is recorded once.
Every POST to Stripe carries an idempotency key that was committed to our database before
the call, so a retry after a timeout or a crash repeats the same request instead of paying
or refunding twice.
"""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fulfillment.services.reservations import stock_reservations_release
from storefront.errors import ApplicationError
from storefront.events import event_publish
from storefront.prepared import PreparedQuery

from .. import stripe_client
from ..lifecycle import CANCELLABLE, order_event_payload, order_transition
from ..models import Order, OrderLine, OrderStatusChange, Payment, Refund, StripeEvent

logger = logging.getLogger(__name__)

Actor = OrderStatusChange.ActorType

# ``Payment.provider`` of an order a partner placed through the API: charged to the
# partner's account (within its credit limit), never to a card.
PARTNER_ACCOUNT = "partner_account"


class OrderNotCancellable(ApplicationError):
    code = "order_not_cancellable"


class RefundRefused(ApplicationError):
    code = "refund_refused"


class PaymentNotPayable(ApplicationError):
    code = "order_not_payable"


# --- the PaymentIntent ---------------------------------------------------------------------

# What ``payment_intent_ensure`` reads: the whole payment it returns, and of its order only
# what it needs (loading the order's ~40 columns cost more than the query itself; other
# order fields still load on access, one query).
PAYMENT_FIELDS = tuple(field.name for field in Payment._meta.concrete_fields)
PAYMENT_ORDER_FIELDS = ("order__status", "order__number", "order__total_krw")
# The order's newest payment with those order fields, compiled once per process.
_ORDER_PAYMENT = PreparedQuery(
    lambda order_id: (
        Payment.objects.select_related("order")
        .only(*PAYMENT_FIELDS, *PAYMENT_ORDER_FIELDS)
        .filter(order_id=order_id)
        .order_by("-created_at", "-id")[:1]
    ),
    "order_id",
)


def payment_intent_ensure(*, order_id: int) -> Payment:
    """Make sure the unpaid order has a PaymentIntent for its total and return its payment.

    Uses the idempotency key stored when the order was placed, so calling this again after a
    timeout returns the same PaymentIntent. Raises ``PaymentNotPayable`` for an order that
    is no longer awaiting payment and ``stripe_client.StripeUnavailable`` when Stripe does
    not answer (nothing is lost: the next call tries again with the same key)."""
    found = _ORDER_PAYMENT.fetch(order_id=order_id)
    payment = found[0] if found else None
    if payment is None or payment.order.status != Order.Status.PENDING_PAYMENT:
        raise PaymentNotPayable(_("This order is not awaiting payment."))
    if payment.status == Payment.Status.CANCELLED:
        # Its PaymentIntent was cancelled (at Stripe) while the order is still open: a new
        # key, or Stripe's idempotency would hand back the cancelled one.
        payment = Payment.objects.create(
            order=payment.order,
            idempotency_key=f"pi-{payment.order.number}-{uuid.uuid4().hex[:12]}",
            amount_krw=payment.order.total_krw,
        )
    if payment.payment_intent_id:
        return payment
    intent = _payment_intent_create(payment)
    # One conditional UPDATE: a concurrent call with the same key got the same intent and
    # may have stored it first; then it is read back as stored.
    now = timezone.now()
    stored = Payment.objects.filter(pk=payment.pk, payment_intent_id__isnull=True).update(
        payment_intent_id=intent.id,
        client_secret=intent.client_secret,
        status=Payment.Status.REQUIRES_PAYMENT,
        updated_at=now,
    )
    if not stored:
        return Payment.objects.get(pk=payment.pk)
    payment.payment_intent_id = intent.id
    payment.client_secret = intent.client_secret
    payment.status = Payment.Status.REQUIRES_PAYMENT
    payment.updated_at = now
    return payment


def _payment_intent_create(payment: Payment) -> stripe_client.PaymentIntentData:
    """Create the payment's PaymentIntent, or get back the one its stored idempotency key
    already created (same key, same arguments: Stripe replays its answer)."""
    return stripe_client.payment_intent_create(
        amount_krw=payment.amount_krw,
        idempotency_key=payment.idempotency_key,
        metadata={"order_number": payment.order.number, "payment_id": str(payment.pk)},
        description=f"Global Store {payment.order.number}",
    )


# --- webhook events ------------------------------------------------------------------------


HANDLED_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
)


def stripe_event_receive(*, event: dict) -> StripeEvent | None:
    """Record a verified Stripe event once by its id and apply it. A redelivered event is
    recorded already and changes nothing (returns None)."""
    event_id = str(event.get("id", ""))
    event_type = str(event.get("type", ""))
    intent = (event.get("data") or {}).get("object") or {}
    intent_id = str(intent.get("id", "")) if event_type.startswith("payment_intent.") else ""
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event_id, type=event_type, payment_intent_id=intent_id, payload=event
                )
        except IntegrityError:
            logger.info("stripe event %s already recorded", event_id)
            return None
        if event_type in HANDLED_EVENTS and intent_id:
            _payment_intent_apply(
                intent_id=intent_id,
                status=str(intent.get("status", "")),
                event_type=event_type,
                amount_received=intent.get("amount_received"),
                amount=intent.get("amount"),
                last_error=intent.get("last_payment_error") or {},
            )
        record.processed_at = timezone.now()
        record.save(update_fields=["processed_at"])
    return record


def _payment_intent_apply(
    *,
    intent_id: str,
    status: str,
    event_type: str,
    amount_received: int | None,
    amount: int | None,
    last_error: dict,
) -> None:
    """Bring our payment and order in line with a PaymentIntent state (inside a
    transaction). Terminal states win over late events."""
    payment = Payment.objects.select_for_update().filter(payment_intent_id=intent_id).first()
    if payment is None:
        logger.warning("stripe event %s for unknown PaymentIntent %s", event_type, intent_id)
        return
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    if event_type == "payment_intent.succeeded" or status == "succeeded":
        _payment_succeeded(payment=payment, order=order, amount_received=amount_received or amount)
    elif event_type == "payment_intent.payment_failed":
        if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.CANCELLED):
            return
        payment.status = Payment.Status.FAILED
        payment.last_error_code = str(
            last_error.get("decline_code") or last_error.get("code") or ""
        )[:80]
        payment.last_error_message = str(last_error.get("message") or "")[:300]
        payment.save(
            update_fields=["status", "last_error_code", "last_error_message", "updated_at"]
        )
    elif event_type == "payment_intent.processing":
        if payment.status in (Payment.Status.REQUIRES_PAYMENT, Payment.Status.FAILED):
            payment.status = Payment.Status.PROCESSING
            payment.save(update_fields=["status", "updated_at"])
    elif event_type == "payment_intent.canceled":
        if payment.status == Payment.Status.SUCCEEDED:
            return
        payment.status = Payment.Status.CANCELLED
        payment.save(update_fields=["status", "updated_at"])


def _payment_succeeded(*, payment: Payment, order: Order, amount_received: int | None) -> None:
    if payment.status == Payment.Status.SUCCEEDED:
        return
    payment.status = Payment.Status.SUCCEEDED
    payment.captured_krw = min(int(amount_received or payment.amount_krw), payment.amount_krw)
    payment.last_error_code = ""
    payment.last_error_message = ""
    payment.save(
        update_fields=[
            "status",
            "captured_krw",
            "last_error_code",
            "last_error_message",
            "updated_at",
        ]
    )
    if order.status == Order.Status.PENDING_PAYMENT:
        order_transition(
            order=order,
            to_status=Order.Status.PAID,
            actor_type=Actor.PAYMENT_PROVIDER,
            reason=f"PaymentIntent {payment.payment_intent_id} succeeded",
        )
        return
    # Paid after the order was cancelled (it expired while the shopper was paying): the
    # money goes back automatically and the shopper is told.
    if order.status == Order.Status.CANCELLED:
        logger.warning("order %s was paid after cancellation; refunding", order.number)
        refund = _refund_record(
            payment=payment,
            amount_krw=payment.captured_krw,
            reason="paid after cancellation",
            lines={},
            actor_id=None,
        )
        transaction.on_commit(lambda: _refund_submit_later(refund.pk))


# --- reconciliation and expiry -------------------------------------------------------------


def payment_reconcile(*, payment_id: int) -> str:
    """Ask Stripe for the PaymentIntent's state and apply it, for orders whose webhook never
    arrived. Returns the Stripe status. Safe to repeat."""
    payment = Payment.objects.get(pk=payment_id)
    if not payment.payment_intent_id:
        return "missing"
    intent = stripe_client.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id)
    event_type = {
        "succeeded": "payment_intent.succeeded",
        "canceled": "payment_intent.canceled",
        "processing": "payment_intent.processing",
    }.get(intent.status)
    if event_type:
        with transaction.atomic():
            _payment_intent_apply(
                intent_id=intent.id,
                status=intent.status,
                event_type=event_type,
                amount_received=intent.amount,
                amount=intent.amount,
                last_error={},
            )
    return intent.status


def order_expire(*, order_id: int, now=None) -> bool:
    """Cancel an unpaid order whose payment window has passed and release its stock.

    The PaymentIntent is cancelled at Stripe first; if Stripe says it already succeeded,
    the order is marked paid instead. Returns True when the order was cancelled."""
    now = now or timezone.now()
    order = Order.objects.get(pk=order_id)
    if order.status != Order.Status.PENDING_PAYMENT or order.payment_due_at > now:
        return False
    if _payment_intents_cancel(order_id=order.pk):
        return False  # it was paid after all
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != Order.Status.PENDING_PAYMENT:
            return False
        order_transition(
            order=order,
            to_status=Order.Status.CANCELLED,
            actor_type=Actor.SYSTEM,
            reason="payment window expired",
        )
        stock_reservations_release(order_id=order.pk)
    return True


def _payment_intents_cancel(*, order_id: int) -> bool:
    """Cancel the order's open PaymentIntents at Stripe (idempotent). Returns True when one
    of them turned out to have succeeded (and applies that instead).

    A payment without a PaymentIntent id may still have one at Stripe: its create reached
    Stripe and every answer was lost, and the shopper never came back to the pay page.
    Its create is sent again with the stored key, which hands back that intent (or makes
    one, if no create ever got through), and that is cancelled like the others. With
    Stripe down that is skipped: nobody has such an intent's client secret, so it cannot
    be paid, and the order must not wait for Stripe to be cancelled."""
    for payment in Payment.objects.filter(order_id=order_id).select_related("order"):
        if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.CANCELLED):
            if payment.status == Payment.Status.SUCCEEDED:
                return True
            continue
        payment_intent_id = payment.payment_intent_id
        if payment_intent_id is None:
            try:
                payment_intent_id = _payment_intent_create(payment).id
            except stripe_client.StripeUnavailable:
                # Its client secret never reached anyone, so it cannot be paid: the order
                # is cancelled all the same, and the intent (if any) stays open at Stripe.
                logger.warning("order %s: lost PaymentIntent not recovered (Stripe down)",
                               order_id)  # fmt: skip
                continue
        intent = stripe_client.payment_intent_cancel(
            payment_intent_id=payment_intent_id,
            idempotency_key=f"cancel-{payment.idempotency_key}",
        )
        with transaction.atomic():
            if intent.status == "succeeded":
                _payment_intent_apply(
                    intent_id=intent.id,
                    status="succeeded",
                    event_type="payment_intent.succeeded",
                    amount_received=intent.amount,
                    amount=intent.amount,
                    last_error={},
                )
                return True
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            if locked.status != Payment.Status.SUCCEEDED:
                locked.status = Payment.Status.CANCELLED
                fields = ["status", "updated_at"]
                if locked.payment_intent_id is None:  # recovered above: keep it on record
                    locked.payment_intent_id = intent.id
                    fields.append("payment_intent_id")
                locked.save(update_fields=fields)
    return False


# --- cancellation --------------------------------------------------------------------------


def order_cancel(*, order_id: int, actor_type: str, actor_id: int | None, reason: str) -> Order:
    """Cancel an order that has not shipped: cancel or refund its payment and release its
    stock. Raises ``OrderNotCancellable`` once a shipment has left. Safe to retry: a
    refund already recorded is submitted again with its own idempotency key."""
    order = Order.objects.get(pk=order_id)
    if order.status not in CANCELLABLE:
        raise OrderNotCancellable(
            _("This order can no longer be cancelled (status: %s).") % order.get_status_display()
        )
    if order.status == Order.Status.PENDING_PAYMENT and _payment_intents_cancel(order_id=order_id):
        order.refresh_from_db()  # it was paid meanwhile: cancel as a paid order below
    refunds: list[int] = []
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in CANCELLABLE:
            raise OrderNotCancellable(
                _("This order can no longer be cancelled (status: %s).")
                % order.get_status_display()
            )
        was_paid = order.status != Order.Status.PENDING_PAYMENT
        order_transition(
            order=order,
            to_status=Order.Status.CANCELLED,
            actor_type=actor_type,
            actor_id=actor_id,
            reason=reason,
        )
        stock_reservations_release(order_id=order.pk)
        if was_paid:
            for payment in Payment.objects.select_for_update().filter(
                order=order, status=Payment.Status.SUCCEEDED
            ):
                remaining = payment.captured_krw - _refunds_committed(payment)
                if remaining > 0:
                    refunds.append(
                        _refund_record(
                            payment=payment,
                            amount_krw=remaining,
                            reason=f"cancelled: {reason}"[:200],
                            lines={},
                            actor_id=actor_id,
                        ).pk
                    )
    for refund_id in refunds:
        try:
            refund_submit(refund_id=refund_id)
        except stripe_client.StripeUnavailable:
            logger.warning("refund %s left pending for retry: Stripe unavailable", refund_id)
            _refund_submit_later(refund_id)
    order.refresh_from_db()
    return order


# --- refunds -------------------------------------------------------------------------------


def _refunds_committed(payment: Payment) -> int:
    """Refunded plus still-pending refunds: what may no longer be refunded again."""
    pending = (
        payment.refunds.filter(status=Refund.Status.PENDING).aggregate(total=Sum("amount_krw"))[
            "total"
        ]
        or 0
    )
    return payment.refunded_krw + pending


def _refund_record(
    *,
    payment: Payment,
    amount_krw: int,
    reason: str,
    lines: dict,
    actor_id: int | None,
    idempotency_key: str | None = None,
) -> Refund:
    """Record a refund (with its idempotency key) before Stripe is called. The caller holds
    the payment row lock."""
    if amount_krw <= 0:
        raise RefundRefused(
            _("A refund must be at least ₩1."), fields={"amount_krw": _("Too small.")}
        )
    available = payment.captured_krw - _refunds_committed(payment)
    if amount_krw > available:
        raise RefundRefused(
            _("At most ₩%(available)s can still be refunded.") % {"available": f"{available:,}"},
            fields={"amount_krw": _("More than what can be refunded.")},
        )
    return Refund.objects.create(
        payment=payment,
        amount_krw=amount_krw,
        reason=reason[:200],
        lines={str(k): v for k, v in (lines or {}).items()},
        idempotency_key=idempotency_key or f"re-{payment.pk}-{uuid.uuid4().hex[:16]}",
        actor_id=actor_id,
    )


def refund_request(
    *,
    order_id: int,
    amount_krw: int,
    reason: str,
    actor_id: int | None,
    lines: dict[int, int] | None = None,
) -> Refund:
    """Refund part or all of a paid order through Stripe. The amount can never exceed what
    was captured minus what is refunded or being refunded (checked under the payment's row
    lock, and by a database constraint on the payment). Returns the refund; it stays
    ``pending`` if Stripe did not answer, and a retry never refunds twice."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(order_id=order_id, status=Payment.Status.SUCCEEDED)
            .first()
        )
        if payment is None:
            raise RefundRefused(_("This order has no captured payment to refund."))
        refund = _refund_record(
            payment=payment,
            amount_krw=amount_krw,
            reason=reason,
            lines=lines or {},
            actor_id=actor_id,
        )
    return _refund_submit_now_or_later(refund)


def refund_lines(
    *,
    order_id: int,
    lines: dict[int, int],
    reason: str,
    actor_id: int | None,
    idempotency_key: str | None = None,
) -> Refund:
    """Refund units of order lines: each unit at the price paid, plus its share of the
    line's import fees (spread evenly over the line's units; for another split refund an
    amount with ``refund_request``). The units are marked on the line
    (``cancelled_quantity``) in the same transaction as the refund record, so they can
    never be refunded twice."""
    if idempotency_key:
        # A caller that may run twice (an event subscriber) names its refund: the second
        # run finds it instead of refunding the units again.
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.status == Refund.Status.PENDING:
                return _refund_submit_now_or_later(existing)
            return existing
    wanted = {int(line_id): int(qty) for line_id, qty in lines.items() if int(qty) > 0}
    if not wanted:
        raise RefundRefused(_("Choose at least one unit to refund."), fields={"lines": ""})
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(order_id=order_id, status=Payment.Status.SUCCEEDED)
            .first()
        )
        if payment is None:
            raise RefundRefused(_("This order has no captured payment to refund."))
        order_lines = {
            line.pk: line
            for line in OrderLine.objects.select_for_update()
            .filter(order_id=order_id, pk__in=wanted)
            .order_by("pk")
        }
        amount = 0
        for line_id, quantity in sorted(wanted.items()):
            line = order_lines.get(line_id)
            if line is None:
                raise RefundRefused(
                    _("That line is not part of this order."), fields={f"line_{line_id}": ""}
                )
            left = line.quantity - line.cancelled_quantity
            if quantity > left:
                raise RefundRefused(
                    _("Only %(left)s unit(s) of this line can still be refunded.") % {"left": left},
                    fields={f"line_{line_id}": _("At most %(left)s.") % {"left": left}},
                )
            fees = line.duty_krw + line.vat_krw
            amount += line.unit_price_krw * quantity + round(fees * quantity / line.quantity)
            line.cancelled_quantity += quantity
            line.save(update_fields=["cancelled_quantity"])
        refund = _refund_record(
            payment=payment,
            amount_krw=amount,
            reason=reason,
            lines=wanted,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
        )
    return _refund_submit_now_or_later(refund)


def refund_submit(*, refund_id: int) -> Refund:
    """Send a recorded refund to Stripe with its own idempotency key and book the result.
    Idempotent: a succeeded refund is left alone, a repeat sends the same key. A refund of
    a payment charged to a partner's account (``provider == PARTNER_ACCOUNT``) succeeds at
    once without Stripe."""
    refund = Refund.objects.select_related("payment__order").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    if refund.payment.provider == PARTNER_ACCOUNT:
        # Charged to a partner's account: the refund is a credit on that account, booked
        # at once (no Stripe call, no Stripe refund id).
        external_id, outcome = None, "succeeded"
    else:
        result = stripe_client.refund_create(
            payment_intent_id=refund.payment.payment_intent_id,
            amount_krw=refund.amount_krw,
            idempotency_key=refund.idempotency_key,
            metadata={"order_number": refund.payment.order.number, "refund_id": str(refund.pk)},
        )
        external_id, outcome = result.id, result.status
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != Refund.Status.PENDING:
            return refund
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if outcome in ("succeeded", "pending"):
            refund.status = Refund.Status.SUCCEEDED
            refund.stripe_refund_id = external_id
            refund.save(update_fields=["status", "stripe_refund_id", "updated_at"])
            payment.refunded_krw += refund.amount_krw  # the DB refuses more than captured
            payment.save(update_fields=["refunded_krw", "updated_at"])
            _order_after_refund(order=order, payment=payment, refund=refund)
        else:
            refund.status = Refund.Status.FAILED
            refund.stripe_refund_id = external_id
            refund.save(update_fields=["status", "stripe_refund_id", "updated_at"])
    return refund


def _order_after_refund(*, order: Order, payment: Payment, refund: Refund) -> None:
    fully = payment.refunded_krw >= payment.captured_krw
    payload = {"refund_id": refund.pk, "amount_krw": refund.amount_krw, "fully_refunded": fully}
    target = Order.Status.REFUNDED if fully else Order.Status.PARTIALLY_REFUNDED
    # A cancelled order stays cancelled, and a second partial refund is no status change;
    # partners and emails still learn of the money.
    if order.status == Order.Status.CANCELLED or order.status == target:
        event_payload = order_event_payload(order)
        event_payload.update(payload)
        event_publish(
            topic="order.refunded",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload=event_payload,
        )
        return
    order_transition(
        order=order,
        to_status=target,
        actor_type=Actor.STAFF if refund.actor_id else Actor.SYSTEM,
        actor_id=refund.actor_id,
        reason=refund.reason,
        extra_payload=payload,
    )


def _refund_submit_now_or_later(refund: Refund) -> Refund:
    """Send the refund now; if Stripe does not answer, leave it pending for the retry task
    (its idempotency key makes the retry safe)."""
    try:
        return refund_submit(refund_id=refund.pk)
    except stripe_client.StripeUnavailable:
        _refund_submit_later(refund.pk)
        refund.refresh_from_db()
        return refund


def _refund_submit_later(refund_id: int) -> None:
    from ..tasks import refund_submit_task

    try:
        refund_submit_task.apply_async(args=[refund_id], countdown=30)
    except Exception:  # broker down: the pending-refunds sweep picks it up
        logger.warning(
            "could not enqueue refund %s; the sweep will retry it", refund_id, exc_info=True
        )
