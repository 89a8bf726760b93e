"""The order state machine: which status may follow which, in one place.

Every status change goes through ``order_transition``: it checks the move, stamps the
order, records an ``OrderStatusChange`` (who or what, why, when) and writes the domain event
to the outbox in the same transaction. An invalid move raises; it is never a silent no-op.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from storefront.errors import ApplicationError
from storefront.events import event_publish

from .models import Order, OrderStatus, OrderStatusChange

S = OrderStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.PROCESSING, S.SHIPPED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED, S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

# Statuses in which nothing has left a warehouse yet, so the shopper may still cancel.
CANCELLABLE = frozenset({S.PENDING_PAYMENT, S.PAID, S.PROCESSING})

# The domain event each status publishes (``order.placed`` is published at creation).
EVENT_FOR_STATUS = {
    S.PAID: "order.paid",
    S.CANCELLED: "order.cancelled",
    S.PARTIALLY_REFUNDED: "order.refunded",
    S.REFUNDED: "order.refunded",
    S.SHIPPED: "order.shipped",
    S.DELIVERED: "order.delivered",
}


class InvalidTransition(ApplicationError):
    code = "order_invalid_transition"


def transition_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def order_event_payload(order: Order) -> dict:
    return {
        "order_id": order.pk,
        "number": order.number,
        "status": order.status,
        "total_krw": order.total_krw,
    }


def order_transition(
    *,
    order: Order,
    to_status: str,
    actor_type: str,
    actor_id: int | None = None,
    reason: str = "",
    extra_payload: dict | None = None,
) -> OrderStatusChange:
    """Move ``order`` (a row the caller has locked with ``select_for_update``) to
    ``to_status``. Raises ``InvalidTransition`` for a move the table does not allow,
    including staying in the same status. Records the change and publishes the event in
    the caller's transaction."""
    from_status = order.status
    if not transition_allowed(from_status, to_status):
        raise InvalidTransition(
            _("An order that is “%(from)s” cannot become “%(to)s”.")
            % {"from": S(from_status).label, "to": S(to_status).label},
            fields={"status": f"{from_status}->{to_status}"},
        )
    now = timezone.now()
    with transaction.atomic():
        order.status = to_status
        update_fields = ["status", "updated_at"]
        if to_status == S.PAID and order.paid_at is None:
            order.paid_at = now
            update_fields.append("paid_at")
        if to_status == S.CANCELLED:
            order.cancelled_at = now
            update_fields.append("cancelled_at")
        order.save(update_fields=update_fields)
        change = OrderStatusChange.objects.create(
            order=order,
            from_status=from_status,
            to_status=to_status,
            actor_type=actor_type,
            actor_id=actor_id,
            reason=reason[:200],
        )
        topic = EVENT_FOR_STATUS.get(to_status)
        if topic:
            payload = order_event_payload(order)
            payload["from_status"] = from_status
            payload.update(extra_payload or {})
            event_publish(
                topic=topic, aggregate_type="order", aggregate_id=order.pk, payload=payload
            )
    return change
