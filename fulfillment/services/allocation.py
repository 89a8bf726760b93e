"""Allocation at payment: a paid order's lines are promised to domestic stock, and what no
Korean warehouse holds is bought from Amazon on the day's cross-border purchase order.

The rules (DOMAIN.md, Stock and restock; issue 4): the order's active reservations become
allocations first; what is still missing for a line is taken from domestic, active
warehouses in priority order, spilling across warehouses; the remainder goes on the day's
open cross-border ``PurchaseOrder``.

Concurrency. ``order_allocate`` locks the ``Order`` row, then the ``Stock`` rows of the
order's products in primary-key order (the lock order of ``services.reservations``), then
the reservations, then the day's purchase order. Counters move by conditional ``F()``
updates, and the check constraints (allocated + reserved ≤ on_hand) are the last guard.

This module reads ``orders.models`` but never writes the orders tables and never imports
``orders.services``: a split that differs from what the shopper was promised is published
as ``order.fulfillment_changed`` for the orders app to act on.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, OrderLine, OrderStatus
from storefront.errors import ApplicationError
from storefront.events import event_publish

from ..models import (
    Allocation,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    Stock,
)

logger = logging.getLogger(__name__)

SEOUL = ZoneInfo("Asia/Seoul")
CROSS_BORDER_SUPPLIER = "amazon"
# Orders whose lines may be allocated: paid and nothing shipped or cancelled yet.
ALLOCATABLE_STATUSES = (OrderStatus.PAID, OrderStatus.PROCESSING, OrderStatus.PARTIALLY_REFUNDED)
# A day's cross-border batch that was already sent is followed by ``-2``, ``-3``, …
MAX_BATCHES_PER_DAY = 50
FULFILLMENT_CHANGED = "order.fulfillment_changed"


class AllocationOrderMissing(ApplicationError):
    """The order to allocate does not exist."""

    code = "allocation_order_missing"


class AllocationInconsistent(ApplicationError):
    """A stock row holds fewer allocated units than its allocations say (data damage)."""

    code = "allocation_inconsistent"


@dataclass(frozen=True)
class AllocatedLine:
    """How one order line ships after allocation: ``domestic`` units allocated in Korean
    warehouses (``from_reservation`` of them were reserved at checkout), ``cross_border``
    units on a purchase order. ``promised_*`` is the split frozen on the line at checkout."""

    order_line_id: int
    product_id: int
    quantity: int
    domestic: int
    cross_border: int
    from_reservation: int
    promised_domestic: int
    promised_cross_border: int

    @property
    def changed(self) -> bool:
        """Ships differently from the promise: more units from abroad or more from Korea
        than frozen at checkout (units refunded before allocation are no change)."""
        return (
            self.cross_border > self.promised_cross_border or self.domestic > self.promised_domestic
        )


@dataclass(frozen=True)
class AllocationResult:
    """What an order's allocation holds. ``created`` is False when nothing was written
    (already allocated, or the order is not in a status that allocates: see ``skipped``)."""

    order_id: int
    lines: tuple[AllocatedLine, ...] = ()
    created: bool = False
    skipped: str = ""
    purchase_order_id: int | None = None
    changed_lines: tuple[int, ...] = ()

    @property
    def domestic_units(self) -> int:
        return sum(line.domestic for line in self.lines)

    @property
    def cross_border_units(self) -> int:
        return sum(line.cross_border for line in self.lines)

    def line(self, order_line_id: int) -> AllocatedLine:
        for line in self.lines:
            if line.order_line_id == order_line_id:
                return line
        raise KeyError(order_line_id)


def cross_border_run_key(*, day: datetime.date) -> str:
    """The run key of a day's (Seoul date) cross-border batch."""
    return f"xb-{day:%Y%m%d}"


def _lock_order(order_id: int) -> Order:
    order = Order.objects.select_for_update(of=("self",)).filter(pk=order_id).first()
    if order is None:
        raise AllocationOrderMissing(_("Order %(id)s does not exist.") % {"id": order_id})
    return order


def _lock_stock(*, product_ids: list[int], extra_stock_ids: list[int]) -> list[Stock]:
    """The products' stock rows in domestic, active warehouses that still have free units
    (plus the rows the order's reservations hold, wherever they are), locked in
    primary-key order.

    Sold-out rows are not locked: an order for a product nobody has left in Korea only
    needs the purchase order, so it does not queue behind the orders that take the last
    units (the benchmark showed hot products serialising on those locks). PostgreSQL
    re-checks the condition on a row it had to wait for, so a row emptied meanwhile drops
    out; one freed meanwhile is simply not used, and the units ship cross-border."""
    return list(
        Stock.objects.select_for_update(of=("self",))
        .select_related("warehouse")
        .filter(
            Q(
                product_id__in=product_ids,
                warehouse__is_domestic=True,
                warehouse__is_active=True,
                on_hand__gt=F("allocated") + F("reserved"),
            )
            | Q(pk__in=extra_stock_ids)
        )
        .order_by("pk")
    )


def _existing_result(*, order: Order, lines: list[OrderLine]) -> AllocationResult | None:
    """The allocation already made for the order, or ``None`` if there is none."""
    allocations = list(
        Allocation.objects.filter(order_id=order.pk).values(
            "order_line_id", "quantity", "status", "from_reservation"
        )
    )
    po_lines = list(
        PurchaseOrderLine.objects.filter(order_line__order_id=order.pk).values(
            "order_line_id", "quantity", "status", "purchase_order_id"
        )
    )
    if not allocations and not po_lines:
        return None
    result_lines = []
    for line in lines:
        mine = [
            a
            for a in allocations
            if a["order_line_id"] == line.pk and a["status"] != Allocation.Status.RELEASED
        ]
        bought = [
            p
            for p in po_lines
            if p["order_line_id"] == line.pk and p["status"] != PurchaseOrderLine.Status.CANCELLED
        ]
        result_lines.append(
            AllocatedLine(
                order_line_id=line.pk,
                product_id=line.product_id,
                quantity=line.quantity,
                domestic=sum(a["quantity"] for a in mine),
                cross_border=sum(p["quantity"] for p in bought),
                from_reservation=sum(a["quantity"] for a in mine if a["from_reservation"]),
                promised_domestic=line.domestic_quantity,
                promised_cross_border=line.cross_border_quantity,
            )
        )
    po_ids = {p["purchase_order_id"] for p in po_lines}
    return AllocationResult(
        order_id=order.pk,
        lines=tuple(result_lines),
        purchase_order_id=min(po_ids) if po_ids else None,
    )


def _share_lock(purchase_order: PurchaseOrder) -> None:
    """``SELECT … FOR SHARE`` on the purchase order (Django has no share lock), then its
    status as of the lock. SQLite serialises writers anyway and has no row locks."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM fulfillment_purchaseorder WHERE id = %s FOR SHARE",
                [purchase_order.pk],
            )
    purchase_order.refresh_from_db(fields=["status"])


def _open_cross_border_purchase_order(*, now: datetime.datetime) -> PurchaseOrder:
    """The day's open cross-border purchase order, created if needed and share-locked: any
    number of allocations add lines to it at once, while the sourcing run (which takes a
    row lock to mark it submitted) waits until they commit, so no line is added to an
    order already sent. The unique ``idempotency_key`` is what keeps concurrent
    allocations to one order per batch."""
    day = timezone.localtime(now, SEOUL).date()
    base = cross_border_run_key(day=day)
    for batch in range(1, MAX_BATCHES_PER_DAY + 1):
        run_key = base if batch == 1 else f"{base}-{batch}"
        wanted = PurchaseOrder.objects.filter(
            kind=PurchaseOrder.Kind.CROSS_BORDER,
            supplier=CROSS_BORDER_SUPPLIER,
            idempotency_key=f"po-{run_key}",
        )
        purchase_order = wanted.first()
        if purchase_order is None:
            try:
                with transaction.atomic():
                    PurchaseOrder.objects.create(
                        kind=PurchaseOrder.Kind.CROSS_BORDER,
                        supplier=CROSS_BORDER_SUPPLIER,
                        run_key=run_key,
                        idempotency_key=f"po-{run_key}",
                    )
            except IntegrityError:
                pass  # a concurrent allocation created it first: use that one
            purchase_order = wanted.get()
        _share_lock(purchase_order)
        if purchase_order.status == PurchaseOrder.Status.OPEN:
            return purchase_order
    raise ApplicationError(
        _("Too many cross-border batches today; cannot open another purchase order."),
        code="purchase_order_batches_exhausted",
    )


def _convert_reservation(
    *, reservation: Reservation, line: OrderLine, units: int, allocations: dict
) -> None:
    """Turn ``units`` of an active reservation into an allocation of ``line``; the rest of
    the reservation (if the line needs fewer) goes back to the shelf."""
    moved = Stock.objects.filter(
        pk=reservation.stock_id, reserved__gte=reservation.quantity
    ).update(reserved=F("reserved") - reservation.quantity, allocated=F("allocated") + units)
    if not moved:
        raise AllocationInconsistent(
            _("Stock row %(id)s holds fewer reserved units than its reservations.")
            % {"id": reservation.stock_id}
        )
    if units:
        key = (line.pk, reservation.stock_id)
        allocation = allocations.get(key)
        if allocation is None:
            allocations[key] = Allocation(
                order_id=line.order_id,
                order_line_id=line.pk,
                stock_id=reservation.stock_id,
                product_id=line.product_id,
                quantity=units,
                from_reservation=True,
            )
        else:
            allocation.quantity += units


def order_allocate(*, order_id: int, now: datetime.datetime | None = None) -> AllocationResult:
    """Allocate a paid order, in one transaction: each line's active reservations become
    allocations (``Stock.reserved`` → ``allocated``, the reservation ``converted``); what is
    still missing of the line (its quantity less cancelled units) is taken from domestic,
    active warehouses in priority order, spilling across them, from units available (on
    hand − allocated − reserved); the remainder is added as a line of the day's open
    cross-border purchase order (run key ``xb-YYYYMMDD``, Seoul date).

    Idempotent: when the order already has allocations or purchase-order lines, nothing is
    written and the existing split is returned (``created`` False), so a redelivered
    ``order.paid`` changes nothing. An order that is not paid (e.g. cancelled before the
    event arrived) is left alone (``skipped``).

    When reserved units have gone (the reservation expired and the units were taken), the
    line takes what is free, and the rest ships cross-border. Every line whose split
    differs from the one frozen at checkout is listed in ``changed_lines`` and published in
    one ``order.fulfillment_changed`` event. The store absorbs any extra cost (duties,
    freight): nothing is re-priced and the order lines are not rewritten here; the orders
    app decides what to tell the shopper and which dates to promise.

    Raises ``AllocationOrderMissing`` and ``AllocationInconsistent`` (nothing written).
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = _lock_order(order_id)
        lines = list(OrderLine.objects.filter(order_id=order.pk).order_by("pk"))
        if order.status not in ALLOCATABLE_STATUSES:
            return AllocationResult(order_id=order.pk, skipped=f"status {order.status}")
        existing = _existing_result(order=order, lines=lines)
        if existing is not None:
            return existing

        active = list(
            Reservation.objects.filter(order_id=order.pk, status=Reservation.Status.ACTIVE)
        )
        stocks = _lock_stock(
            product_ids=[line.product_id for line in lines],
            extra_stock_ids=[r.stock_id for r in active],
        )
        # Read again under the stock locks (the lock order: order, stock, reservations).
        reservations = list(
            Reservation.objects.select_for_update()
            .filter(order_id=order.pk, status=Reservation.Status.ACTIVE)
            .order_by("pk")
        )
        line_by_product = {line.product_id: line for line in lines}
        needed = {line.pk: max(line.quantity - line.cancelled_quantity, 0) for line in lines}
        allocations: dict[tuple[int, int], Allocation] = {}
        converted: list[int] = []
        released: list[int] = []
        for reservation in reservations:
            line = line_by_product.get(reservation.product_id)
            units = min(reservation.quantity, needed[line.pk]) if line else 0
            _convert_reservation(
                reservation=reservation, line=line, units=units, allocations=allocations
            )
            if units:
                needed[line.pk] -= units
                converted.append(reservation.pk)
            else:
                released.append(reservation.pk)
        if converted:
            Reservation.objects.filter(pk__in=converted).update(status=Reservation.Status.CONVERTED)
        if released:
            Reservation.objects.filter(pk__in=released).update(
                status=Reservation.Status.RELEASED, released_at=now
            )

        # Spill over free units, refreshed after the conversions above.
        fresh = {s.pk: s for s in Stock.objects.filter(pk__in=[s.pk for s in stocks])}
        by_priority = sorted(
            (s for s in stocks if s.warehouse.is_domestic and s.warehouse.is_active),
            key=lambda s: (s.warehouse.priority, s.warehouse.code, s.pk),
        )
        for line in lines:
            for stock in by_priority:
                if needed[line.pk] <= 0:
                    break
                if stock.product_id != line.product_id:
                    continue
                units = min(fresh[stock.pk].available, needed[line.pk])
                if units <= 0:
                    continue
                taken = Stock.objects.filter(
                    pk=stock.pk, on_hand__gte=F("allocated") + F("reserved") + units
                ).update(allocated=F("allocated") + units)
                if not taken:  # only without row locks (SQLite): the units went elsewhere
                    continue
                fresh[stock.pk].allocated += units
                needed[line.pk] -= units
                key = (line.pk, stock.pk)
                if key in allocations:
                    allocations[key].quantity += units
                else:
                    allocations[key] = Allocation(
                        order_id=order.pk,
                        order_line_id=line.pk,
                        stock_id=stock.pk,
                        product_id=line.product_id,
                        quantity=units,
                    )
        Allocation.objects.bulk_create(list(allocations.values()))

        purchase_order = None
        po_lines = []
        for line in lines:
            if needed[line.pk] > 0:
                purchase_order = purchase_order or _open_cross_border_purchase_order(now=now)
                po_lines.append(
                    PurchaseOrderLine(
                        purchase_order=purchase_order,
                        product_id=line.product_id,
                        order_line_id=line.pk,
                        quantity=needed[line.pk],
                        expected_unit_price_usd=line.unit_price_usd,
                    )
                )
        PurchaseOrderLine.objects.bulk_create(po_lines)

        result_lines = []
        for line in lines:
            mine = [a for (line_id, _s), a in allocations.items() if line_id == line.pk]
            cross_border = sum(p.quantity for p in po_lines if p.order_line_id == line.pk)
            result_lines.append(
                AllocatedLine(
                    order_line_id=line.pk,
                    product_id=line.product_id,
                    quantity=line.quantity,
                    domestic=sum(a.quantity for a in mine),
                    cross_border=cross_border,
                    from_reservation=sum(a.quantity for a in mine if a.from_reservation),
                    promised_domestic=line.domestic_quantity,
                    promised_cross_border=line.cross_border_quantity,
                )
            )
        changed = tuple(line.order_line_id for line in result_lines if line.changed)
        if changed:
            _publish_fulfillment_changed(order=order, lines=result_lines)
        return AllocationResult(
            order_id=order.pk,
            lines=tuple(result_lines),
            created=True,
            purchase_order_id=purchase_order.pk if purchase_order else None,
            changed_lines=changed,
        )


def _publish_fulfillment_changed(*, order: Order, lines: list[AllocatedLine]) -> None:
    newly_cross_border = any(
        line.cross_border > line.promised_cross_border for line in lines if line.changed
    )
    event_publish(
        topic=FULFILLMENT_CHANGED,
        aggregate_type="order",
        aggregate_id=order.pk,
        payload={
            "order_id": order.pk,
            "number": order.number,
            "store_absorbs_cost": True,
            # Customs needs a PCCC for a parcel from abroad; an order placed all-domestic
            # has none, and the orders app must ask the shopper for it.
            "needs_pccc": newly_cross_border and not order.has_cross_border,
            "lines": [
                {
                    "order_line_id": line.order_line_id,
                    "product_id": line.product_id,
                    "domestic_quantity": line.domestic,
                    "cross_border_quantity": line.cross_border,
                    "promised_domestic_quantity": line.promised_domestic,
                    "promised_cross_border_quantity": line.promised_cross_border,
                }
                for line in lines
                if line.changed
            ],
        },
    )


def order_allocations_release(*, order_id: int, order_line_ids: list[int] | None = None) -> int:
    """Give back what the order's lines (all of them, or ``order_line_ids``) hold and have
    not shipped: each ``allocated`` allocation becomes ``released`` and its stock row's
    ``allocated`` drops by its quantity; their open or on-hold purchase-order lines are
    cancelled while their purchase order has not been sent (a line on a sent order is left
    to the sourcing run, which must cancel it with the supplier). Return the units given
    back to stock.

    Idempotent: released and shipped allocations and cancelled lines are left alone, so a
    second call returns 0 and changes nothing. Locks the order row, then the stock rows in
    primary-key order, then the allocations. Raises ``AllocationInconsistent`` (nothing
    written) if a stock row holds fewer allocated units than its allocations say.
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        mine = Allocation.objects.filter(order_id=order.pk, status=Allocation.Status.ALLOCATED)
        po_lines = PurchaseOrderLine.objects.filter(
            order_line__order_id=order.pk,
            status__in=(PurchaseOrderLine.Status.OPEN, PurchaseOrderLine.Status.ON_HOLD),
        )
        if order_line_ids is not None:
            mine = mine.filter(order_line_id__in=order_line_ids)
            po_lines = po_lines.filter(order_line_id__in=order_line_ids)
        stock_ids = sorted(set(mine.values_list("stock_id", flat=True)))
        list(Stock.objects.select_for_update().filter(pk__in=stock_ids).order_by("pk"))
        allocations = list(mine.select_for_update().order_by("pk"))
        released = 0
        for allocation in allocations:
            given_back = Stock.objects.filter(
                pk=allocation.stock_id, allocated__gte=allocation.quantity
            ).update(allocated=F("allocated") - allocation.quantity)
            if not given_back:
                raise AllocationInconsistent(
                    _("Stock row %(id)s holds fewer allocated units than its allocations.")
                    % {"id": allocation.stock_id}
                )
            released += allocation.quantity
        Allocation.objects.filter(pk__in=[a.pk for a in allocations]).update(
            status=Allocation.Status.RELEASED, updated_at=timezone.now()
        )
        cancelled = po_lines.filter(
            Q(purchase_order__status=PurchaseOrder.Status.OPEN)
            | Q(status=PurchaseOrderLine.Status.ON_HOLD)
        ).update(status=PurchaseOrderLine.Status.CANCELLED)
        left = po_lines.count()
        if left:
            logger.warning(
                "order %s: %s purchase-order line(s) already sent to the supplier; "
                "the sourcing run must cancel them",
                order.number,
                left,
            )
        logger.info(
            "order %s: released %s allocated unit(s), cancelled %s purchase-order line(s)",
            order.number,
            released,
            cancelled,
        )
        return released
