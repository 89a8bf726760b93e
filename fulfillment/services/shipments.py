"""Shipments to customers and their tracking.

- ``shipment_create``: staff pack allocated units of one warehouse into a parcel.
- ``shipment_mark_shipped``: the parcel left; its units leave the stock (on hand and
  allocated both go down, once) and ``shipment.shipped`` is published.
- ``shipment_create_international``: the cross-border leg of a purchase order (no stock).
- ``tracking_events_record``: store what the carrier reported, once per event, and derive
  the shipment's status from the latest step, whatever order the events came in.
- ``tracking_poll_due``: the beat task's work: ask the carriers about due parcels in
  batches; a failing carrier backs off per shipment and never loses stored events.

Events published (docs/events.md): ``shipment.shipped``, ``shipment.tracking_updated``,
``shipment.delivered``, ``shipment.exception``; the orders app reacts to them
(``orders/shipping_subscribers.py``). This module never imports ``orders.services``.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, OrderStatus
from storefront.errors import ApplicationError
from storefront.events import event_publish

from ..models import Allocation, PurchaseOrder, Shipment, ShipmentLine, Stock, TrackingEvent
from ..tracking_client import (
    CARRIERS,
    DOMESTIC_CARRIERS,
    INTERNATIONAL_CARRIER,
    CarrierEvent,
    TrackingUnavailable,
    parcels_track,
)

logger = logging.getLogger(__name__)

S = Shipment.Status
Code = TrackingEvent.Code

SHIPPABLE_ORDER_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.PROCESSING,
    OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_REFUNDED,
)
# Shipments the poller asks about: on their way, not delivered yet.
POLLED_STATUSES = (S.SHIPPED, S.IN_TRANSIT, S.CUSTOMS, S.OUT_FOR_DELIVERY, S.EXCEPTION)
STATUS_FOR_CODE = {
    Code.PICKED_UP: S.SHIPPED,
    Code.DEPARTED_US: S.IN_TRANSIT,
    Code.ARRIVED_KOREA: S.CUSTOMS,
    Code.CUSTOMS_CLEARED: S.IN_TRANSIT,
    Code.IN_TRANSIT: S.IN_TRANSIT,
    Code.OUT_FOR_DELIVERY: S.OUT_FOR_DELIVERY,
    Code.DELIVERED: S.DELIVERED,
    Code.EXCEPTION: S.EXCEPTION,
}
# Which of two events at the same instant is the later step.
CODE_RANK = {code: rank for rank, code in enumerate(Code.values)}
# Status changes the shopper hears about through ``shipment.tracking_updated``.
UPDATE_STATUSES = (S.IN_TRANSIT, S.CUSTOMS, S.OUT_FOR_DELIVERY)
MAX_POLL_BATCHES = 50  # one run asks about at most this many batches; the next run goes on


class ShipmentInvalid(ApplicationError):
    """The shipment cannot be created or shipped as asked (units not allocated there, an
    unknown carrier, a tracking number already used, a released allocation...)."""

    code = "shipment_invalid"


class ShipmentNotFound(ApplicationError):
    code = "shipment_not_found"


def _check_carrier(carrier: str, *, international: bool) -> None:
    allowed = (INTERNATIONAL_CARRIER,) if international else DOMESTIC_CARRIERS
    if carrier not in allowed:
        raise ShipmentInvalid(
            _("Unknown carrier “%(carrier)s” (one of %(carriers)s).")
            % {"carrier": carrier, "carriers": ", ".join(allowed)},
            code="shipment_unknown_carrier",
            fields={"carrier": carrier},
        )


def _create_with_number(**fields) -> Shipment:
    try:
        with transaction.atomic():
            return Shipment.objects.create(**fields)
    except IntegrityError as exc:
        if "shipment_tracking_number_unique" in str(exc) or "tracking_number" in str(exc):
            raise ShipmentInvalid(
                _("Tracking number %(number)s is already used for another %(carrier)s parcel.")
                % {"number": fields["tracking_number"], "carrier": fields["carrier"]},
                code="shipment_tracking_number_taken",
                fields={"tracking_number": fields["tracking_number"]},
            ) from exc
        raise


def shipment_units_unpacked(*, order_id: int, warehouse_id: int) -> dict[int, int]:
    """Allocated units of an order in one warehouse not yet in any shipment, by order line
    id (what ``shipment_create`` may still pack)."""
    allocations = Allocation.objects.filter(
        order_id=order_id, stock__warehouse_id=warehouse_id, status=Allocation.Status.ALLOCATED
    ).annotate(packed=Sum("shipment_lines__quantity"))
    return {
        a.order_line_id: a.quantity - (a.packed or 0)
        for a in allocations
        if a.quantity - (a.packed or 0) > 0
    }


def shipment_create(
    *,
    order_id: int,
    warehouse_id: int,
    lines: Sequence[tuple[int, int]],
    carrier: str,
    tracking_number: str,
    actor_id: int | None = None,
) -> Shipment:
    """Create a domestic shipment (``created``: being packed) of ``lines`` — (order line id,
    units) — from ``warehouse_id``. Only units allocated to that line in that warehouse and
    not already in another shipment can be packed: the allocation rows are locked, so two
    staff packing the same units at once cannot both succeed. Stock is not touched until
    ``shipment_mark_shipped``. Raises ``ShipmentInvalid``."""
    _check_carrier(carrier, international=False)
    tracking_number = tracking_number.strip()
    wanted: dict[int, int] = defaultdict(int)
    for order_line_id, quantity in lines:
        if quantity < 1:
            raise ShipmentInvalid(_("Each line ships at least one unit."), code="shipment_empty")
        wanted[order_line_id] += quantity
    if not wanted:
        raise ShipmentInvalid(_("A shipment needs at least one line."), code="shipment_empty")
    with transaction.atomic():
        order = Order.objects.get(pk=order_id)
        if order.status not in SHIPPABLE_ORDER_STATUSES:
            raise ShipmentInvalid(
                _("Order %(number)s cannot ship (it is %(status)s).")
                % {"number": order.number, "status": order.get_status_display()},
                code="shipment_order_not_shippable",
            )
        allocations = {
            a.order_line_id: a
            for a in Allocation.objects.select_for_update()
            .filter(
                order_id=order_id,
                stock__warehouse_id=warehouse_id,
                order_line_id__in=list(wanted),
                status=Allocation.Status.ALLOCATED,
            )
            .order_by("pk")
        }
        packed = dict(
            ShipmentLine.objects.filter(allocation__in=list(allocations.values()))
            .values_list("allocation_id")
            .annotate(total=Sum("quantity"))
        )
        for order_line_id, quantity in wanted.items():
            allocation = allocations.get(order_line_id)
            free = allocation.quantity - packed.get(allocation.pk, 0) if allocation else 0
            if quantity > free:
                raise ShipmentInvalid(
                    _("Only %(free)s unit(s) of line %(line)s are allocated here and unpacked.")
                    % {"free": free, "line": order_line_id},
                    code="shipment_units_not_allocated",
                    fields={"lines": str(order_line_id)},
                )
        shipment = _create_with_number(
            order_id=order_id,
            kind=Shipment.Kind.DOMESTIC,
            warehouse_id=warehouse_id,
            carrier=carrier,
            tracking_number=tracking_number,
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(
                shipment=shipment,
                order_line_id=order_line_id,
                allocation=allocations[order_line_id],
                quantity=quantity,
            )
            for order_line_id, quantity in sorted(wanted.items())
        )
    logger.info("shipment %s created for order %s by %s", shipment.pk, order_id, actor_id)
    return shipment


def shipment_mark_shipped(*, shipment_id: int, actor_id: int | None = None) -> Shipment:
    """The parcel left the warehouse: in one transaction its units leave the stock rows
    (locked in primary-key order; ``on_hand`` and ``allocated`` both go down by ``F()``),
    fully packed allocations become ``shipped``, the shipment is ``shipped`` and due for
    tracking, and ``shipment.shipped`` is published. Idempotent: a shipment that already
    left is returned unchanged (stock is consumed exactly once). Raises
    ``ShipmentInvalid`` when an allocation was released meanwhile or the shipment has no
    tracking number."""
    with transaction.atomic():
        try:
            shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        except Shipment.DoesNotExist as exc:
            raise ShipmentNotFound(_("No such shipment.")) from exc
        if shipment.status != S.CREATED:
            return shipment
        if not shipment.tracking_number:
            raise ShipmentInvalid(
                _("Enter the tracking number before marking the shipment shipped."),
                code="shipment_no_tracking_number",
            )
        lines = list(shipment.lines.all())
        allocation_ids = sorted({line.allocation_id for line in lines if line.allocation_id})
        allocations = {
            a.pk: a
            for a in Allocation.objects.select_for_update()
            .filter(pk__in=allocation_ids)
            .order_by("pk")
        }
        if any(a.status != Allocation.Status.ALLOCATED for a in allocations.values()):
            raise ShipmentInvalid(
                _("Some units of this shipment are no longer allocated (cancelled or refunded)."),
                code="shipment_allocation_released",
            )
        units_by_stock: dict[int, int] = defaultdict(int)
        for line in lines:
            if line.allocation_id:
                units_by_stock[allocations[line.allocation_id].stock_id] += line.quantity
        list(Stock.objects.select_for_update().filter(pk__in=list(units_by_stock)).order_by("pk"))
        for stock_id, units in sorted(units_by_stock.items()):
            changed = Stock.objects.filter(pk=stock_id, allocated__gte=units).update(
                on_hand=F("on_hand") - units, allocated=F("allocated") - units
            )
            if not changed:
                raise ShipmentInvalid(
                    _("Stock row %(stock)s does not hold these allocated units.")
                    % {"stock": stock_id},
                    code="shipment_stock_inconsistent",
                )
        # An allocation is shipped once every one of its units left in a shipped parcel.
        now = timezone.now()
        shipment.status = S.SHIPPED
        shipment.shipped_at = now
        shipment.next_poll_at = now
        shipment.poll_failures = 0
        shipment.save(
            update_fields=["status", "shipped_at", "next_poll_at", "poll_failures", "updated_at"]
        )
        shipped_units = dict(
            ShipmentLine.objects.filter(allocation_id__in=allocation_ids)
            .exclude(shipment__status=S.CREATED)
            .values_list("allocation_id")
            .annotate(total=Sum("quantity"))
        )
        done = [pk for pk, a in allocations.items() if shipped_units.get(pk, 0) >= a.quantity]
        Allocation.objects.filter(pk__in=done).update(
            status=Allocation.Status.SHIPPED, updated_at=now
        )
        _publish(shipment, "shipment.shipped")
    logger.info("shipment %s shipped by %s", shipment.pk, actor_id)
    return shipment


def shipment_create_international(
    *,
    order_id: int,
    purchase_order_id: int,
    carrier: str,
    tracking_number: str,
    lines: Sequence[tuple[int, int]],
) -> Shipment:
    """Record the cross-border leg the supplier shipped for a purchase order: a shipment
    already ``shipped`` (no stock is involved), due for tracking, ``shipment.shipped``
    published. Idempotent: the same carrier and tracking number for the same order returns
    the existing shipment."""
    _check_carrier(carrier, international=True)
    tracking_number = tracking_number.strip()
    if not tracking_number or not lines:
        raise ShipmentInvalid(
            _("An international shipment needs a tracking number and lines."),
            code="shipment_empty",
        )
    with transaction.atomic():
        existing = (
            Shipment.objects.select_for_update()
            .filter(carrier=carrier, tracking_number=tracking_number)
            .first()
        )
        if existing is not None:
            if existing.order_id != order_id:
                raise ShipmentInvalid(
                    _("Tracking number %(number)s belongs to another order.")
                    % {"number": tracking_number},
                    code="shipment_tracking_number_taken",
                )
            return existing
        PurchaseOrder.objects.get(pk=purchase_order_id)
        now = timezone.now()
        shipment = _create_with_number(
            order_id=order_id,
            kind=Shipment.Kind.INTERNATIONAL,
            purchase_order_id=purchase_order_id,
            carrier=carrier,
            tracking_number=tracking_number,
            status=S.SHIPPED,
            shipped_at=now,
            next_poll_at=now,
        )
        wanted: dict[int, int] = defaultdict(int)
        for order_line_id, quantity in lines:
            wanted[order_line_id] += quantity
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line_id=line_id, quantity=quantity)
            for line_id, quantity in sorted(wanted.items())
        )
        _publish(shipment, "shipment.shipped")
    return shipment


def _publish(shipment: Shipment, topic: str, **extra) -> None:
    payload = {
        "shipment_id": shipment.pk,
        "order_id": shipment.order_id,
        "status": shipment.status,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        **extra,
    }
    event_publish(topic=topic, aggregate_type="shipment", aggregate_id=shipment.pk, payload=payload)


def _latest(events: Sequence[TrackingEvent]) -> TrackingEvent | None:
    """The step the parcel is at: a delivery is final whatever is reported after it;
    otherwise the latest event by time (by step at the same instant)."""
    delivered = [e for e in events if e.code == Code.DELIVERED]
    if delivered:
        return min(delivered, key=lambda e: e.occurred_at)
    if not events:
        return None
    return max(events, key=lambda e: (e.occurred_at, CODE_RANK.get(e.code, 0)))


def _repoll_delay(failures: int) -> datetime.timedelta:
    if failures <= 0:
        return datetime.timedelta(seconds=settings.TRACKING_REPOLL_SECONDS)
    seconds = settings.TRACKING_REPOLL_SECONDS * 2 ** min(failures, 20)
    return datetime.timedelta(seconds=min(seconds, settings.TRACKING_BACKOFF_MAX_SECONDS))


def tracking_events_record(
    *,
    shipment_id: int,
    events: Sequence[CarrierEvent],
    polled_at: datetime.datetime | None = None,
) -> int:
    """Store the carrier's events for a shipment, each once (by its id: repeats in the
    batch or from earlier polls are ignored; the unique constraint is the last guard), and
    return how many were new. The shipment's status follows the latest step over all its
    stored events (so events arriving out of order are safe); on a change it publishes
    ``shipment.delivered`` (with ``delivered_at``; polling stops), ``shipment.exception``
    or, for in transit / customs / out for delivery, ``shipment.tracking_updated``. With
    ``polled_at`` (the poller), the failure count resets and the next poll is scheduled."""
    with transaction.atomic():
        try:
            shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        except Shipment.DoesNotExist as exc:
            raise ShipmentNotFound(_("No such shipment.")) from exc
        stored = set(shipment.events.values_list("external_id", flat=True))
        new: dict[str, TrackingEvent] = {}
        for event in events:
            if event.external_id in stored or event.external_id in new:
                continue
            new[event.external_id] = TrackingEvent(
                shipment=shipment,
                external_id=event.external_id,
                code=event.code,
                occurred_at=event.occurred_at,
                location=event.location,
                description=event.description,
            )
        if new:
            TrackingEvent.objects.bulk_create(new.values(), ignore_conflicts=True)
        update_fields = ["updated_at"]
        if polled_at is not None:
            shipment.poll_failures = 0
            shipment.next_poll_at = polled_at + _repoll_delay(0)
            update_fields += ["poll_failures", "next_poll_at"]
        latest = _latest(list(shipment.events.all())) if new else None
        previous = shipment.status
        if latest is not None and shipment.status != S.CREATED:
            status = STATUS_FOR_CODE[latest.code]
            if status != previous:
                shipment.status = status
                update_fields.append("status")
                if status == S.DELIVERED:
                    shipment.delivered_at = latest.occurred_at
                    shipment.next_poll_at = None
                    update_fields += ["delivered_at", "next_poll_at"]
        shipment.save(update_fields=list(dict.fromkeys(update_fields)))
        if shipment.status != previous:
            if shipment.status == S.DELIVERED:
                _publish(
                    shipment, "shipment.delivered", delivered_at=latest.occurred_at.isoformat()
                )
            elif shipment.status == S.EXCEPTION:
                _publish(shipment, "shipment.exception", description=latest.description)
            elif shipment.status in UPDATE_STATUSES:
                _publish(shipment, "shipment.tracking_updated", code=latest.code)
    return len(new)


def _poll_failed(*, shipment_ids: Sequence[int], now: datetime.datetime) -> None:
    """The carrier did not answer: each shipment's failure count goes up and its next
    poll moves out, doubling per failure up to ``TRACKING_BACKOFF_MAX_SECONDS``."""
    with transaction.atomic():
        for shipment in (
            Shipment.objects.select_for_update().filter(pk__in=shipment_ids).order_by("pk")
        ):
            shipment.poll_failures += 1
            shipment.next_poll_at = now + _repoll_delay(shipment.poll_failures)
            shipment.save(update_fields=["poll_failures", "next_poll_at", "updated_at"])


def tracking_poll_due(
    *, now: datetime.datetime | None = None, batch_size: int | None = None
) -> int:
    """Ask the carriers about every shipment on its way whose next poll is due, in batches
    of ``batch_size`` (``TRACKING_BATCH_SIZE``) per carrier, and record what they report;
    return how many new events were stored. A batch the carrier cannot answer
    (``TrackingUnavailable``) backs off for its shipments and the others go on; events
    already stored are never touched by a failure. Safe to run twice at once: recording is
    idempotent."""
    now = now or timezone.now()
    batch_size = batch_size or settings.TRACKING_BATCH_SIZE
    due = (
        Shipment.objects.filter(status__in=POLLED_STATUSES, next_poll_at__lte=now)
        .exclude(tracking_number="")
        .order_by("next_poll_at", "pk")
        .values_list("pk", "carrier", "tracking_number")[: batch_size * MAX_POLL_BATCHES]
    )
    by_carrier: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pk, carrier, number in due:
        by_carrier[carrier].append((pk, number))
    recorded = 0
    for carrier, shipments in sorted(by_carrier.items()):
        if carrier not in CARRIERS:
            logger.error(
                "shipments %s have unknown carrier %r", [pk for pk, _ in shipments], carrier
            )
            _poll_failed(shipment_ids=[pk for pk, _ in shipments], now=now)
            continue
        for start in range(0, len(shipments), batch_size):
            batch = shipments[start : start + batch_size]
            try:
                answers = parcels_track(carrier=carrier, tracking_numbers=[n for _, n in batch])
            except TrackingUnavailable:
                _poll_failed(shipment_ids=[pk for pk, _ in batch], now=now)
                continue
            for pk, number in batch:
                parcel = answers.get(number)
                recorded += tracking_events_record(
                    shipment_id=pk, events=parcel.events if parcel else (), polled_at=now
                )
    return recorded
