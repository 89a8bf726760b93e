"""Restocking domestic warehouses: raise replenishment purchase orders for stock that fell
under its reorder point, and receive what arrives into the warehouse.

The scan (DOMAIN.md, Stock and restock) orders ``target − available − already on order``
for every stock row whose available units are under the reorder point. *Available* is
on hand − allocated − reserved here (the issue says on hand − allocated): units reserved
for orders awaiting payment are promised too, exactly as the storefront and the checkout
count them. *Already on order* is what replenishment purchase orders for the same
warehouse and product still have to deliver (quantity − received of their lines that are
neither cancelled nor done, on orders that are not received or cancelled).

It is set-based: the candidates, their on-order units and their prices come from one SQL
statement (on-order units aggregated once and joined, not looked up per row), and the
purchase orders and their lines are written with two bulk inserts, whatever the number of
stock rows. Never twice for the same need: a need that was ordered is on
order at the next scan, and two scans racing are serialised by a lock on the warehouse rows
taken before anything is read, with the ``purchase_order_one_per_run`` unique constraint
(one order per kind, supplier, warehouse and run key) as the last guard.

Receiving is idempotent per receipt reference (``receipt_once_per_reference``): the same
delivery reported twice raises ``on_hand`` once.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront.errors import ApplicationError

from ..models import PurchaseOrder, PurchaseOrderLine, Receipt, Stock, Warehouse

logger = logging.getLogger(__name__)

SUPPLIER = "amazon"
RUN_KEY_ZONE = ZoneInfo("Asia/Seoul")
LINE_BATCH_SIZE = 2000
# Orders whose open lines still bring units: everything not received in full or cancelled.
# An order on hold still counts: staff decide about it, and cancelling it lets the next
# scan raise the need again.
PENDING_STATUSES = (
    PurchaseOrder.Status.OPEN,
    PurchaseOrder.Status.SUBMITTED,
    PurchaseOrder.Status.CONFIRMED,
    PurchaseOrder.Status.SHIPPED,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
    PurchaseOrder.Status.ON_HOLD,
)
PENDING_LINE_STATUSES = (PurchaseOrderLine.Status.OPEN, PurchaseOrderLine.Status.ON_HOLD)
RECEIVED_WITHIN_QUANTITY = "po_line_received_within_quantity"


class ReceiptInvalid(ApplicationError):
    """The receipt cannot be recorded: unknown line, not a replenishment, a cancelled line
    or order, or a quantity under 1."""

    code = "receipt_invalid"


class ReceiptExceedsOrdered(ApplicationError):
    """More units would be received than the line ordered; nothing was written."""

    code = "receipt_exceeds_ordered"


@dataclass(frozen=True)
class RestockResult:
    """What one scan raised: the purchase orders it created or added lines to (their
    ids), the lines and units ordered, and the warehouses it left for the next run because
    this run's order was already sent to the supplier."""

    run_key: str
    purchase_order_ids: tuple[int, ...]
    lines: int
    units: int
    deferred_warehouse_ids: tuple[int, ...] = ()


def restock_run_key(*, now: datetime.datetime | None = None) -> str:
    """The default run key: Seoul time truncated to the hour (``restock-2026112817``)."""
    moment = (now or timezone.now()).astimezone(RUN_KEY_ZONE)
    return f"restock-{moment:%Y%m%d%H}"


def restock_needs_sql() -> tuple[str, list]:
    """The scan's one read, as SQL and parameters (the benchmark explains it).

    A single statement, so stock and what is on order come from one snapshot: the units
    still to arrive per (warehouse, product) are aggregated once over the pending
    replenishment lines (a hash join, not a lookup per stock row), then joined to the stock
    rows under their reorder point.
    """
    stock = Stock._meta.db_table
    warehouse = Warehouse._meta.db_table
    product = Stock._meta.get_field("product").related_model._meta.db_table
    order = PurchaseOrder._meta.db_table
    line = PurchaseOrderLine._meta.db_table
    order_statuses = ", ".join(["%s"] * len(PENDING_STATUSES))
    line_statuses = ", ".join(["%s"] * len(PENDING_LINE_STATUSES))
    sql = f"""
        WITH on_order AS (
            SELECT po.warehouse_id, pol.product_id, SUM(pol.quantity - pol.received) AS units
            FROM {line} pol
            JOIN {order} po ON po.id = pol.purchase_order_id
            WHERE po.kind = %s
              AND po.status IN ({order_statuses})
              AND pol.status IN ({line_statuses})
            GROUP BY po.warehouse_id, pol.product_id
        ), low AS (
            SELECT s.warehouse_id, s.product_id, s.target_level,
                   s.on_hand - s.allocated - s.reserved AS available
            FROM {stock} s
            JOIN {warehouse} w ON w.id = s.warehouse_id
            WHERE w.is_active AND w.is_domestic
              AND s.on_hand - s.allocated - s.reserved < s.reorder_point
        )
        SELECT low.warehouse_id, low.product_id,
               low.target_level - low.available - COALESCE(on_order.units, 0) AS need,
               p.source_price_usd
        FROM low
        JOIN {product} p ON p.id = low.product_id
        LEFT JOIN on_order
          ON on_order.warehouse_id = low.warehouse_id AND on_order.product_id = low.product_id
        WHERE p.is_active
          AND low.target_level - low.available - COALESCE(on_order.units, 0) > 0
        ORDER BY low.warehouse_id, low.product_id
    """  # noqa: S608 - table names come from the models, values are parameters
    params = [
        PurchaseOrder.Kind.REPLENISHMENT.value,
        *(status.value for status in PENDING_STATUSES),
        *(status.value for status in PENDING_LINE_STATUSES),
    ]
    return sql, params


def restock_needs() -> list[tuple[int, int, int, Decimal]]:
    """Stock rows to restock, as ``(warehouse_id, product_id, need, source_price_usd)``
    ordered by warehouse and product: active domestic warehouses, active products,
    available units (on hand − allocated − reserved) under the reorder point, and a
    positive need (target − available − on order). One query."""
    sql, params = restock_needs_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            (warehouse_id, product_id, int(need), Decimal(price))
            for warehouse_id, product_id, need, price in cursor.fetchall()
        ]


def restock_scan(
    *, run_key: str | None = None, now: datetime.datetime | None = None
) -> RestockResult:
    """Raise replenishment purchase orders (supplier Amazon, one per warehouse and run) for
    every stock row whose available units are under the reorder point, ordering
    ``target − available − on order`` at the product's current USD source price.

    Guarantees: one transaction; a fixed number of queries whatever the number of stock
    rows (plus one insert per 2,000 lines ordered); a need already on order is never
    ordered again (a second scan right after raises nothing); two scans at once are
    serialised (the second waits for the first and then sees its orders), and the unique
    (kind, supplier, warehouse, run key) constraint means one order per warehouse per
    run. A later scan in the same run adds its lines to
    the run's order while it is still open; once that order was submitted, the warehouse
    waits for the next run (``deferred_warehouse_ids``).
    """
    run_key = run_key or restock_run_key(now=now)
    with transaction.atomic():
        # FOR NO KEY UPDATE: serialises scans without blocking inserts that reference a
        # warehouse (stock rows, shipments take FOR KEY SHARE on it).
        list(
            Warehouse.objects.select_for_update(no_key=True)
            .filter(is_active=True, is_domestic=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        needs = restock_needs()
        if not needs:
            return RestockResult(run_key=run_key, purchase_order_ids=(), lines=0, units=0)

        by_warehouse: dict[int, list[tuple[int, int, Decimal]]] = defaultdict(list)
        for warehouse_id, product_id, need, price in needs:
            by_warehouse[warehouse_id].append((product_id, need, price))

        PurchaseOrder.objects.bulk_create(
            [
                PurchaseOrder(
                    kind=PurchaseOrder.Kind.REPLENISHMENT,
                    supplier=SUPPLIER,
                    warehouse_id=warehouse_id,
                    run_key=run_key,
                    idempotency_key=f"replenishment-{SUPPLIER}-{warehouse_id}-{run_key}",
                )
                for warehouse_id in by_warehouse
            ],
            ignore_conflicts=True,  # this run's order for the warehouse exists already
        )
        orders = {
            order.warehouse_id: order
            for order in PurchaseOrder.objects.filter(
                kind=PurchaseOrder.Kind.REPLENISHMENT,
                supplier=SUPPLIER,
                run_key=run_key,
                warehouse_id__in=list(by_warehouse),
            ).only("pk", "warehouse_id", "status")
        }
        lines: list[PurchaseOrderLine] = []
        deferred: list[int] = []
        for warehouse_id, wanted in by_warehouse.items():
            order = orders[warehouse_id]
            if order.status != PurchaseOrder.Status.OPEN:
                deferred.append(warehouse_id)
                continue
            lines.extend(
                PurchaseOrderLine(
                    purchase_order_id=order.pk,
                    product_id=product_id,
                    quantity=need,
                    expected_unit_price_usd=price,
                )
                for product_id, need, price in wanted
            )
        PurchaseOrderLine.objects.bulk_create(lines, batch_size=LINE_BATCH_SIZE)
        if deferred:
            logger.info(
                "Restock run %s: warehouses %s already sent this run's order; their needs "
                "wait for the next run.",
                run_key,
                deferred,
            )
        return RestockResult(
            run_key=run_key,
            purchase_order_ids=tuple(sorted({line.purchase_order_id for line in lines})),
            lines=len(lines),
            units=sum(line.quantity for line in lines),
            deferred_warehouse_ids=tuple(deferred),
        )


def _order_status_after_receipt(order_id: int) -> str:
    """Received when every line that is not cancelled arrived in full."""
    outstanding = (
        PurchaseOrderLine.objects.filter(purchase_order_id=order_id, received__lt=F("quantity"))
        .exclude(status=PurchaseOrderLine.Status.CANCELLED)
        .exists()
    )
    if outstanding:
        return PurchaseOrder.Status.PARTIALLY_RECEIVED
    return PurchaseOrder.Status.RECEIVED


def replenishment_receive(
    *,
    purchase_order_line_id: int,
    quantity: int,
    reference: str,
    actor_id: int | None = None,
) -> Receipt | None:
    """Receive ``quantity`` units of a replenishment line into its warehouse; return the
    receipt, or ``None`` when this ``reference`` was already received for the line (the
    same delivery reported twice changes nothing).

    One transaction: the line and its order are locked, the receipt is recorded once per
    (line, reference), ``on_hand`` of the warehouse's stock row goes up by ``quantity``
    (the row is created when the warehouse had none), ``received`` goes up on the line
    (``done`` when complete) and the order becomes partially received or received.
    Raises ``ReceiptInvalid`` (not a replenishment line, cancelled, quantity under 1, no
    reference) or ``ReceiptExceedsOrdered`` (the database refuses more than was ordered);
    nothing is written then.
    """
    reference = (reference or "").strip()
    if quantity < 1 or not reference:
        raise ReceiptInvalid(
            _("A receipt needs a quantity of at least 1 and a reference."),
            fields={
                name: message
                for name, message, bad in (
                    ("quantity", _("Enter a quantity of at least 1."), quantity < 1),
                    ("reference", _("Enter the delivery reference."), not reference),
                )
                if bad
            },
        )
    with transaction.atomic():
        try:
            line = (
                PurchaseOrderLine.objects.select_for_update()
                .select_related("purchase_order")
                .get(pk=purchase_order_line_id)
            )
        except PurchaseOrderLine.DoesNotExist as exc:
            raise ReceiptInvalid(
                _("Purchase order line %(id)s does not exist.") % {"id": purchase_order_line_id}
            ) from exc
        order = line.purchase_order
        if order.kind != PurchaseOrder.Kind.REPLENISHMENT:
            raise ReceiptInvalid(
                _("Only replenishment orders are received into a warehouse."),
                code="receipt_not_replenishment",
            )
        if (
            order.status == PurchaseOrder.Status.CANCELLED
            or line.status == PurchaseOrderLine.Status.CANCELLED
        ):
            raise ReceiptInvalid(
                _("This purchase order line was cancelled."), code="receipt_line_cancelled"
            )

        try:
            with transaction.atomic():
                receipt = Receipt.objects.create(
                    purchase_order_line=line,
                    quantity=quantity,
                    reference=reference,
                    actor_id=actor_id,
                )
        except IntegrityError:
            # The line is locked, so the only conflict is this reference received before.
            logger.info(
                "Receipt %s for purchase order line %s was already recorded; ignored.",
                reference,
                line.pk,
            )
            return None

        try:
            with transaction.atomic():
                PurchaseOrderLine.objects.filter(pk=line.pk).update(
                    received=F("received") + quantity
                )
        except IntegrityError as exc:
            if RECEIVED_WITHIN_QUANTITY not in str(exc):
                raise
            raise ReceiptExceedsOrdered(
                _(
                    "Only %(left)d of the %(ordered)d units ordered on this line are still "
                    "to be received; %(quantity)d is too many."
                )
                % {
                    "left": line.quantity - line.received,
                    "ordered": line.quantity,
                    "quantity": quantity,
                },
                fields={"quantity": _("More than is left to receive on this line.")},
            ) from exc
        if line.received + quantity == line.quantity:
            line.status = PurchaseOrderLine.Status.DONE
            line.save(update_fields=["status"])

        updated = Stock.objects.filter(
            warehouse_id=order.warehouse_id, product_id=line.product_id
        ).update(on_hand=F("on_hand") + quantity)
        if not updated:
            stock, created = Stock.objects.get_or_create(
                warehouse_id=order.warehouse_id,
                product_id=line.product_id,
                defaults={"on_hand": quantity},
            )
            if not created:  # opened by someone else a moment ago
                Stock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") + quantity)

        order.status = _order_status_after_receipt(order.pk)
        order.save(update_fields=["status", "updated_at"])
        return receipt


__all__ = [
    "ReceiptExceedsOrdered",
    "ReceiptInvalid",
    "RestockResult",
    "replenishment_receive",
    "restock_needs",
    "restock_needs_sql",
    "restock_run_key",
    "restock_scan",
]
