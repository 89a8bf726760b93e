"""What the orders app does when its own order events are delivered (``storefront.events``):
email the shopper. Imported from ``OrdersConfig.ready()`` so the subscribers are registered.

The relay delivers at least once; each subscriber sends through
``emails.order_email_send_once``, which records the email in ``OrderNotification`` in the
same transaction, so a redelivered event sends nothing.
"""

from __future__ import annotations

from storefront.events import subscriber
from storefront.models import OutboxEvent

from . import emails
from .models import OrderNotification

Kind = OrderNotification.Kind


@subscriber("order.paid")
def order_paid_email_confirmation(event: OutboxEvent) -> None:
    """The order is paid: send the confirmation email once."""
    order_id = int(event.payload["order_id"])
    emails.order_email_send_once(
        order_id=order_id,
        kind=Kind.CONFIRMATION,
        send=lambda: emails.order_confirmation_send(order_id=order_id),
    )


@subscriber("order.cancelled")
def order_cancelled_email(event: OutboxEvent) -> None:
    """The order is cancelled: tell the shopper once, with what is being refunded (the
    cancellation records its refunds in the same transaction as the status change)."""
    order_id = int(event.payload["order_id"])
    emails.order_email_send_once(
        order_id=order_id,
        kind=Kind.CANCELLATION,
        send=lambda: emails.order_cancellation_send(
            order_id=order_id,
            refunded_krw=emails.refunds_committed_krw(order_id=order_id),
        ),
    )


@subscriber("order.refunded")
def order_refunded_email(event: OutboxEvent) -> None:
    """Money went back to the card: one email per refund (the event names the refund;
    without one, the event itself is the reference)."""
    payload = event.payload
    order_id = int(payload["order_id"])
    amount_krw = int(payload.get("amount_krw") or 0)
    if amount_krw <= 0:
        return  # nothing to tell: an event without an amount is not about money returned
    reference = (
        f"refund-{payload['refund_id']}" if payload.get("refund_id") else f"event-{event.pk}"
    )
    emails.order_email_send_once(
        order_id=order_id,
        kind=Kind.REFUND,
        reference=reference,
        send=lambda: emails.order_refund_send(
            order_id=order_id,
            amount_krw=amount_krw,
            fully_refunded=bool(payload.get("fully_refunded")),
        ),
    )
