"""What fulfillment does when order events are delivered (``storefront.events``): allocate
a paid order, give back what a cancelled or refunded order holds. Imported from
``FulfillmentConfig.ready()`` so the subscribers are registered.

The relay delivers at least once; every service called here is idempotent (allocation
returns the existing split, releases leave released rows alone), so a redelivered event
changes nothing.
"""

from __future__ import annotations

from django.db.models import F

from orders.models import OrderLine, Refund
from storefront.events import subscriber
from storefront.models import OutboxEvent

from .services.allocation import order_allocate, order_allocations_release
from .services.reservations import stock_reservations_release


@subscriber("order.paid")
def order_paid_allocate(event: OutboxEvent) -> None:
    """The order is paid: promise its lines to domestic stock, the rest to Amazon."""
    order_allocate(order_id=int(event.payload["order_id"]))


@subscriber("order.cancelled")
def order_cancelled_release(event: OutboxEvent) -> None:
    """The order is cancelled before shipping: give back its reservations (already done by
    the cancellation itself; a no-op then) and its allocations, cancel its unsent
    purchase-order lines."""
    order_id = int(event.payload["order_id"])
    stock_reservations_release(order_id=order_id)
    order_allocations_release(order_id=order_id)


@subscriber("order.refunded")
def order_refunded_release(event: OutboxEvent) -> None:
    """Money went back: a fully refunded order gives back everything not yet shipped; a
    per-line refund gives back the lines whose every unit is now cancelled."""
    payload = event.payload
    order_id = int(payload["order_id"])
    if payload.get("fully_refunded"):
        order_allocations_release(order_id=order_id)
        return
    refund_id = payload.get("refund_id")
    refund = Refund.objects.filter(pk=refund_id).first() if refund_id else None
    if refund is None or not refund.lines:
        return
    line_ids = [int(line_id) for line_id in refund.lines]
    done = list(
        OrderLine.objects.filter(
            order_id=order_id, pk__in=line_ids, cancelled_quantity__gte=F("quantity")
        ).values_list("pk", flat=True)
    )
    if done:
        order_allocations_release(order_id=order_id, order_line_ids=done)
