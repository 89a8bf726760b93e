"""How orders react to fulfillment's events (subscribers, at least once, idempotent)."""

from __future__ import annotations

from storefront.events import subscriber

from .services.delivery import order_lines_resplit
from .services.payments import refund_lines


@subscriber("purchase_order_line.cancelled")
def refund_units_amazon_could_not_supply(event) -> None:
    """Staff cancelled a cross-border line Amazon could not supply (out of stock, price
    rise): the shopper gets those units' money back. Named after the purchase-order line,
    so a redelivered event finds the refund instead of making a second one."""
    payload = event.payload
    refund_lines(
        order_id=payload["order_id"],
        lines={payload["order_line_id"]: payload["quantity"]},
        reason="Amazon could not supply it",
        actor_id=payload.get("actor_id"),
        idempotency_key=f"re-poline-{payload['purchase_order_line_id']}",
    )


@subscriber("order.fulfillment_changed")
def tell_the_shopper_about_new_delivery_dates(event) -> None:
    """Some units ship from the US after all (the reserved ones were gone): the order's
    lines follow, and the shopper gets the new dates once per event."""
    payload = event.payload
    order_lines_resplit(
        order_id=payload["order_id"],
        lines=payload["lines"],
        reference=f"event-{event.pk}",
        needs_pccc=bool(payload.get("needs_pccc")),
    )
