"""When fulfillment could not ship a line the way checkout promised (the reserved units
were gone), the order's lines follow what will really happen and the shopper is told."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from ..emails import order_delivery_change_send, order_email_send_once
from ..models import Order, OrderLine, OrderNotification


def order_lines_resplit(
    *, order_id: int, lines: Sequence[dict], reference: str, needs_pccc: bool = False
) -> Order:
    """Set each listed line's split (``domestic_quantity``; the rest of the line ships
    cross-border) and email the shopper the new delivery dates once per ``reference``.
    Prices and fees are not touched: the store absorbs any extra cost. Safe to repeat."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        by_id = {
            line.pk: line
            for line in OrderLine.objects.select_for_update().filter(
                order=order, pk__in=[entry["order_line_id"] for entry in lines]
            )
        }
        for entry in lines:
            line = by_id.get(entry["order_line_id"])
            if line is None:
                continue
            domestic = max(0, min(int(entry["domestic_quantity"]), line.quantity))
            if line.domestic_quantity != domestic:
                line.domestic_quantity = domestic
                line.cross_border_quantity = line.quantity - domestic
                line.save(update_fields=["domestic_quantity", "cross_border_quantity"])

        order_email_send_once(
            order_id=order.pk,
            kind=OrderNotification.Kind.DELIVERY_CHANGE,
            reference=reference,
            send=lambda: order_delivery_change_send(order_id=order.pk, needs_pccc=needs_pccc),
        )
    return order
