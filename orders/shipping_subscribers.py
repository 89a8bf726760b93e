"""How the orders app reacts to fulfillment's shipment events (``storefront.events``):
the order's status follows its parcels, and the shopper is emailed on the steps that
matter. Imported from ``OrdersConfig.ready()`` so the subscribers are registered.

- ``shipment.shipped``: a paid (or processing) order becomes ``shipped``.
- ``shipment.delivered``: the order becomes ``delivered`` once every unit still ordered
  is in a shipment and every shipment is delivered.
- Emails: shipped, out for delivery, delivered, delivery problem — once per (shipment,
  step), recorded in ``OrderNotification`` (kind ``shipment``).

Delivery is at least once and in no particular order: every subscriber compares the
event with the current state (the order row locked) and does nothing when the move is
already made or not (yet) due. A delivery reported before the shipping was handled moves
the order through ``shipped`` first.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Sum

from fulfillment.models import Shipment, ShipmentLine
from fulfillment.tracking_client import CARRIER_NAMES
from storefront.events import subscriber
from storefront.models import OutboxEvent

from . import emails
from .lifecycle import order_transition
from .models import Order, OrderStatus, OrderStatusChange

S = OrderStatus
BEFORE_SHIPPED = (S.PAID, S.PROCESSING)


def _was_ever(order: Order, status: str) -> bool:
    return OrderStatusChange.objects.filter(order=order, to_status=status).exists()


def _ship(order: Order, *, shipment_id: int) -> None:
    """Move a locked order to shipped when nothing has shipped before (a partially refunded
    order that already shipped stays as it is)."""
    if order.status in BEFORE_SHIPPED or (
        order.status == S.PARTIALLY_REFUNDED and not _was_ever(order, S.SHIPPED)
    ):
        order_transition(
            order=order,
            to_status=S.SHIPPED,
            actor_type="system",
            reason=f"shipment {shipment_id} shipped",
        )


def order_fully_delivered(*, order_id: int) -> bool:
    """Every unit still ordered (quantity − cancelled) is in a shipment, and every shipment
    of the order is delivered."""
    shipments = Shipment.objects.filter(order_id=order_id)
    if not shipments.exists() or shipments.exclude(status=Shipment.Status.DELIVERED).exists():
        return False
    shipped = dict(
        ShipmentLine.objects.filter(shipment__order_id=order_id)
        .values_list("order_line_id")
        .annotate(total=Sum("quantity"))
    )
    order = Order.objects.get(pk=order_id)
    due = order.lines.annotate(due=F("quantity") - F("cancelled_quantity")).values_list("pk", "due")
    return all(shipped.get(pk, 0) >= units for pk, units in due)


@subscriber("shipment.shipped")
def order_shipped_on_shipment(event: OutboxEvent) -> None:
    """A parcel of the order left: the order is shipped (once)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=int(event.payload["order_id"]))
        _ship(order, shipment_id=int(event.payload["shipment_id"]))


@subscriber("shipment.delivered")
def order_delivered_on_shipment(event: OutboxEvent) -> None:
    """A parcel arrived: the order is delivered when all of it has arrived."""
    order_id = int(event.payload["order_id"])
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        _ship(order, shipment_id=int(event.payload["shipment_id"]))
        if order.status not in (S.SHIPPED, S.PARTIALLY_REFUNDED):
            return
        if order.status == S.PARTIALLY_REFUNDED and _was_ever(order, S.DELIVERED):
            return
        if order_fully_delivered(order_id=order_id):
            order_transition(
                order=order,
                to_status=S.DELIVERED,
                actor_type="system",
                reason="every shipment delivered",
            )


def shipment_email_send(*, shipment_id: int, step: str) -> None:
    """Email the shopper about one step of one parcel (Korean, Seoul time): shipped, out
    for delivery, delivered or a delivery problem, with the carrier and tracking number.
    Sends every time it is called; the subscribers guard it with ``order_email_send_once``."""
    shipment = Shipment.objects.select_related("order").get(pk=shipment_id)
    order = shipment.order
    context = emails.order_email_context(order)
    context.update(
        shipment=shipment,
        step=step,
        carrier_name=CARRIER_NAMES.get(shipment.carrier, shipment.carrier),
        lines=[
            (line.order_line, line.quantity) for line in shipment.lines.select_related("order_line")
        ],
        last_event=shipment.events.order_by("-occurred_at", "-id").first(),
    )
    emails.order_email_send(order=order, kind="shipment_update", context=context)


def _email_once(event: OutboxEvent, step: str) -> None:
    shipment_id = int(event.payload["shipment_id"])
    emails.order_email_send_once(
        order_id=int(event.payload["order_id"]),
        kind=emails.Kind.SHIPMENT,
        reference=f"shipment-{shipment_id}-{step}",
        send=lambda: shipment_email_send(shipment_id=shipment_id, step=step),
    )


@subscriber("shipment.shipped")
def shipment_shipped_email(event: OutboxEvent) -> None:
    _email_once(event, "shipped")


@subscriber("shipment.tracking_updated")
def shipment_out_for_delivery_email(event: OutboxEvent) -> None:
    """Only the out-for-delivery step is worth an email; the others show on the page."""
    if event.payload.get("status") == Shipment.Status.OUT_FOR_DELIVERY:
        _email_once(event, "out_for_delivery")


@subscriber("shipment.delivered")
def shipment_delivered_email(event: OutboxEvent) -> None:
    _email_once(event, "delivered")


@subscriber("shipment.exception")
def shipment_exception_email(event: OutboxEvent) -> None:
    _email_once(event, "exception")
