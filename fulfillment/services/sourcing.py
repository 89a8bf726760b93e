"""Purchase orders to Amazon through the sourcing client: send them, follow them, and let
staff cancel the lines Amazon would not sell at the expected price.

- ``purchase_order_submit`` sends one purchase order. It is closed first (status
  ``submitted`` in its own transaction, so allocation starts a new batch instead of adding
  to it), then sent with the idempotency key it was created with, then the answer is
  recorded in one transaction. A crash or timeout between the two leaves it ``submitted``
  without ``external_id``; submitting again sends the same key, and the supplier answers
  the same order: never two orders for one purchase order.
- A line Amazon answers ``price_changed`` (its price is above the expected price plus
  ``SOURCING_PRICE_TOLERANCE``, the maximum we send) or ``out_of_stock`` is not bought: it
  goes ``on_hold`` with a reason staff read in admin, and so does its purchase order.
- ``purchase_order_refresh`` polls a sent order: shipped → the international shipment of
  each customer order on it (cross-border); delivered to the warehouse → each line received
  (replenishment, ``restock.replenishment_receive``).
- ``purchase_order_line_cancel`` is staff cancelling a held line; it publishes
  ``purchase_order_line.cancelled`` so the orders app refunds the units.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront.errors import ApplicationError
from storefront.events import event_publish

from ..models import PurchaseOrder, PurchaseOrderLine
from ..sourcing_client import (
    SourcingRefused,
    SourcingUnavailable,
    SupplierLineRequest,
    SupplierOrder,
    purchase_order_create,
    purchase_order_get,
)
from .restock import replenishment_receive
from .shipments import shipment_create_international

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
# Supplier statuses after which there is nothing more to poll for.
SUPPLIER_SHIPPED = "shipped"
SUPPLIER_DELIVERED = "delivered_to_warehouse"
SUPPLIER_CANCELLED = "cancelled"
# Purchase orders whose supplier order is still moving.
POLLED_STATUSES = (
    PurchaseOrder.Status.CONFIRMED,
    PurchaseOrder.Status.ON_HOLD,
    PurchaseOrder.Status.SHIPPED,
)


class PurchaseOrderNotFound(ApplicationError):
    code = "purchase_order_not_found"


class PurchaseOrderLineNotHeld(ApplicationError):
    """Only a line on hold can be cancelled by staff (others are bought or already gone)."""

    code = "purchase_order_line_not_held"


def _tolerance() -> Decimal:
    return Decimal(str(settings.SOURCING_PRICE_TOLERANCE))


def _max_unit_price(expected: Decimal) -> Decimal:
    """The most we accept to pay a unit: the expected price plus the tolerance, in cents
    rounded down (never a cent above the tolerance)."""
    return (expected * (1 + _tolerance())).quantize(CENT, rounding=ROUND_DOWN)


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP).normalize():f}"


def price_hold_reason(*, expected: Decimal, actual: Decimal) -> str:
    """Staff-facing: why a line is on hold for a price rise (admin shows it)."""
    rise = (actual - expected) / expected
    return _(
        "Amazon's price rose from USD %(expected)s to USD %(actual)s (+%(rise)s%%), above "
        "the %(tolerance)s%% tolerance."
    ) % {
        "expected": expected,
        "actual": actual,
        "rise": _percent(rise),
        "tolerance": _percent(_tolerance()),
    }


def _lines_to_send(purchase_order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(
        purchase_order.lines.filter(status=PurchaseOrderLine.Status.OPEN)
        .select_related("product", "order_line__order")
        .order_by("pk")
    )


def purchase_order_submit(*, purchase_order_id: int) -> PurchaseOrder:
    """Send an open (or sent-but-unanswered) purchase order to Amazon and record the answer.

    Guarantees: at most one supplier order per purchase order (its ``idempotency_key``,
    committed before the call, is sent every time); the purchase order is closed to new
    lines before the call; the answer is recorded in one transaction (``external_id``,
    ``submitted_at``, ``confirmed`` or ``on_hold``, each line confirmed at its price or on
    hold with its reason). A purchase order already answered, or in any other status, is
    returned unchanged. One with no open line is cancelled (nothing to buy). Raises
    ``SourcingUnavailable`` (still ``submitted``: submit again later) or
    ``PurchaseOrderNotFound``; a supplier refusal puts the purchase order on hold.
    """
    with transaction.atomic():
        purchase_order = _lock(purchase_order_id)
        if purchase_order.external_id or purchase_order.status not in (
            PurchaseOrder.Status.OPEN,
            PurchaseOrder.Status.SUBMITTED,
        ):
            return purchase_order
        lines = _lines_to_send(purchase_order)
        if not lines:
            if (
                purchase_order.status == PurchaseOrder.Status.OPEN
                and not purchase_order.lines.filter(
                    status=PurchaseOrderLine.Status.ON_HOLD
                ).exists()
            ):
                purchase_order.status = PurchaseOrder.Status.CANCELLED
                purchase_order.save(update_fields=["status", "updated_at"])
            return purchase_order
        if purchase_order.status == PurchaseOrder.Status.OPEN:
            purchase_order.status = PurchaseOrder.Status.SUBMITTED
            purchase_order.save(update_fields=["status", "updated_at"])

    requests = [
        SupplierLineRequest(
            asin=line.product.asin,
            quantity=line.quantity,
            max_unit_price_usd=_max_unit_price(line.expected_unit_price_usd),
            expected_unit_price_usd=line.expected_unit_price_usd,
            reference=str(line.pk),
            group=line.order_line.order.number if line.order_line_id else "",
        )
        for line in lines
    ]
    is_cross_border = purchase_order.kind == PurchaseOrder.Kind.CROSS_BORDER
    try:
        answer = purchase_order_create(
            reference=f"PO-{purchase_order.pk}",
            lines=requests,
            idempotency_key=purchase_order.idempotency_key,
            destination="customer" if is_cross_border else "warehouse",
        )
    except SourcingRefused as exc:
        return _purchase_order_hold(
            purchase_order_id=purchase_order.pk,
            reason=_("Amazon refused the purchase order: %(why)s") % {"why": exc.message},
        )
    return _purchase_order_record_answer(purchase_order_id=purchase_order.pk, answer=answer)


def _lock(purchase_order_id: int) -> PurchaseOrder:
    purchase_order = PurchaseOrder.objects.select_for_update().filter(pk=purchase_order_id).first()
    if purchase_order is None:
        raise PurchaseOrderNotFound(
            _("Purchase order %(id)s does not exist.") % {"id": purchase_order_id}
        )
    return purchase_order


def _purchase_order_hold(*, purchase_order_id: int, reason: str) -> PurchaseOrder:
    with transaction.atomic():
        purchase_order = _lock(purchase_order_id)
        purchase_order.status = PurchaseOrder.Status.ON_HOLD
        purchase_order.hold_reason = reason[:300]
        purchase_order.save(update_fields=["status", "hold_reason", "updated_at"])
        logger.error("purchase order %s on hold: %s", purchase_order.pk, reason)
        return purchase_order


def _purchase_order_record_answer(
    *, purchase_order_id: int, answer: SupplierOrder
) -> PurchaseOrder:
    with transaction.atomic():
        purchase_order = _lock(purchase_order_id)
        if purchase_order.external_id:
            return purchase_order  # a concurrent submit recorded it first
        answered = {line.reference: line for line in answer.lines}
        held = 0
        for line in purchase_order.lines.select_for_update().filter(
            status=PurchaseOrderLine.Status.OPEN
        ):
            supplier_line = answered.get(str(line.pk))
            if supplier_line is None:
                # Added after the order was sent (should not happen: it was closed first).
                line.status = PurchaseOrderLine.Status.ON_HOLD
                line.hold_reason = _("Not part of the order sent to Amazon.")
            elif supplier_line.status == "accepted" and supplier_line.unit_price_usd is not None:
                actual = supplier_line.unit_price_usd
                if actual > _max_unit_price(line.expected_unit_price_usd):
                    line.status = PurchaseOrderLine.Status.ON_HOLD
                    line.hold_reason = price_hold_reason(
                        expected=line.expected_unit_price_usd, actual=actual
                    )
                else:
                    line.confirmed_unit_price_usd = actual
            elif supplier_line.status == "price_changed" and supplier_line.unit_price_usd:
                line.status = PurchaseOrderLine.Status.ON_HOLD
                line.hold_reason = price_hold_reason(
                    expected=line.expected_unit_price_usd, actual=supplier_line.unit_price_usd
                )
            elif supplier_line.status == "out_of_stock":
                line.status = PurchaseOrderLine.Status.ON_HOLD
                line.hold_reason = _("Amazon has no stock of %(asin)s.") % {
                    "asin": supplier_line.asin
                }
            else:
                line.status = PurchaseOrderLine.Status.ON_HOLD
                line.hold_reason = _("Amazon answered %(status)s for this line.") % {
                    "status": supplier_line.status
                }
            if line.status == PurchaseOrderLine.Status.ON_HOLD:
                held += 1
            line.save(update_fields=["status", "hold_reason", "confirmed_unit_price_usd"])
        purchase_order.external_id = answer.id
        purchase_order.submitted_at = timezone.now()
        if held:
            purchase_order.status = PurchaseOrder.Status.ON_HOLD
            purchase_order.hold_reason = _("%(count)s line(s) on hold: see the lines' reasons.") % {
                "count": held
            }
        else:
            purchase_order.status = PurchaseOrder.Status.CONFIRMED
        purchase_order.save(
            update_fields=["external_id", "submitted_at", "status", "hold_reason", "updated_at"]
        )
        logger.info(
            "purchase order %s sent as %s: %s, %s line(s) on hold",
            purchase_order.pk,
            answer.id,
            purchase_order.status,
            held,
        )
        return purchase_order


def purchase_orders_submit_due(*, now: datetime.datetime | None = None) -> int:
    """Send what is due: open cross-border purchase orders with lines, older than
    ``SOURCING_BATCH_SECONDS`` (the batch had time to collect lines), open replenishments,
    and anything left ``submitted`` without an answer. Return how many were answered.

    Each purchase order is its own ``purchase_order_submit``; one that fails does not stop
    the others. Raises ``SourcingUnavailable`` at the end if any could not be sent, so the
    task retries (already answered ones are left alone then).
    """
    now = now or timezone.now()
    batch_closed_before = now - datetime.timedelta(seconds=settings.SOURCING_BATCH_SECONDS)
    with_lines = PurchaseOrder.objects.filter(lines__status=PurchaseOrderLine.Status.OPEN)
    due_ids = set(
        with_lines.filter(
            kind=PurchaseOrder.Kind.CROSS_BORDER,
            status=PurchaseOrder.Status.OPEN,
            created_at__lte=batch_closed_before,
        ).values_list("pk", flat=True)
    )
    due_ids |= set(
        with_lines.filter(
            kind=PurchaseOrder.Kind.REPLENISHMENT, status=PurchaseOrder.Status.OPEN
        ).values_list("pk", flat=True)
    )
    due_ids |= set(
        PurchaseOrder.objects.filter(
            status=PurchaseOrder.Status.SUBMITTED, external_id__isnull=True
        ).values_list("pk", flat=True)
    )
    answered = 0
    failures: list[str] = []
    for purchase_order_id in sorted(due_ids):
        try:
            purchase_order = purchase_order_submit(purchase_order_id=purchase_order_id)
        except SourcingUnavailable as exc:
            failures.append(f"{purchase_order_id}: {exc.message}")
            continue
        except ApplicationError as exc:  # not transient: staff see it, the others go on
            logger.error("purchase order %s not sent: %s", purchase_order_id, exc.message)
            continue
        if purchase_order.external_id:
            answered += 1
    if failures:
        raise SourcingUnavailable("; ".join(failures))
    return answered


def purchase_order_refresh(*, purchase_order_id: int) -> PurchaseOrder:
    """Ask Amazon where a sent purchase order is and act on it, idempotently.

    Shipped (cross-border): one international shipment per customer order on it, with the
    supplier's carrier and tracking number, its bought lines marked done, the purchase
    order ``shipped``. Shipped (replenishment): ``shipped``. Delivered to the warehouse:
    each bought line received once under the supplier's delivery id
    (``restock.replenishment_receive``). Raises ``SourcingUnavailable``.
    """
    purchase_order = PurchaseOrder.objects.filter(pk=purchase_order_id).first()
    if purchase_order is None:
        raise PurchaseOrderNotFound(
            _("Purchase order %(id)s does not exist.") % {"id": purchase_order_id}
        )
    if not purchase_order.external_id or purchase_order.status not in POLLED_STATUSES:
        return purchase_order
    answer = purchase_order_get(external_id=purchase_order.external_id)
    if purchase_order.kind == PurchaseOrder.Kind.CROSS_BORDER:
        if answer.status in (SUPPLIER_SHIPPED, SUPPLIER_DELIVERED):
            return _cross_border_shipped(purchase_order_id=purchase_order.pk, answer=answer)
        return _purchase_order_settle(purchase_order_id=purchase_order.pk)
    if answer.status == SUPPLIER_DELIVERED:
        return _replenishment_delivered(purchase_order_id=purchase_order.pk, answer=answer)
    if answer.status == SUPPLIER_SHIPPED:
        with transaction.atomic():
            purchase_order = _lock(purchase_order.pk)
            if purchase_order.status == PurchaseOrder.Status.CONFIRMED:
                purchase_order.status = PurchaseOrder.Status.SHIPPED
                purchase_order.save(update_fields=["status", "updated_at"])
            return purchase_order
    return _purchase_order_settle(purchase_order_id=purchase_order.pk)


def _bought_lines(purchase_order: PurchaseOrder):
    return purchase_order.lines.filter(
        status=PurchaseOrderLine.Status.OPEN, confirmed_unit_price_usd__isnull=False
    ).order_by("pk")


def _cross_border_shipped(*, purchase_order_id: int, answer: SupplierOrder) -> PurchaseOrder:
    with transaction.atomic():
        purchase_order = _lock(purchase_order_id)
        lines = list(_bought_lines(purchase_order).select_related("order_line__order"))
        by_order: dict[int, list[PurchaseOrderLine]] = defaultdict(list)
        for line in lines:
            by_order[line.order_line.order_id].append(line)
        parcels = {parcel.group: parcel for parcel in answer.parcels}
        for order_id, order_lines in by_order.items():
            number = order_lines[0].order_line.order.number
            parcel = parcels.get(number)
            carrier = parcel.carrier if parcel else (answer.carrier or "")
            tracking_number = parcel.tracking_number if parcel else (answer.tracking_number or "")
            shipment_create_international(
                order_id=order_id,
                purchase_order_id=purchase_order.pk,
                carrier=carrier,
                tracking_number=tracking_number,
                lines=[(line.order_line_id, line.quantity) for line in order_lines],
            )
        PurchaseOrderLine.objects.filter(pk__in=[line.pk for line in lines]).update(
            status=PurchaseOrderLine.Status.DONE
        )
        if purchase_order.status != PurchaseOrder.Status.ON_HOLD:
            purchase_order.status = PurchaseOrder.Status.SHIPPED
            purchase_order.save(update_fields=["status", "updated_at"])
        logger.info(
            "purchase order %s shipped: %s international shipment(s)",
            purchase_order.pk,
            len(by_order),
        )
        return purchase_order


def _replenishment_delivered(*, purchase_order_id: int, answer: SupplierOrder) -> PurchaseOrder:
    purchase_order = PurchaseOrder.objects.get(pk=purchase_order_id)
    reference = answer.delivery_id or answer.id
    for line in _bought_lines(purchase_order):
        if line.quantity > line.received:
            replenishment_receive(
                purchase_order_line_id=line.pk,
                quantity=line.quantity - line.received,
                reference=reference,
            )
    purchase_order.refresh_from_db()
    return purchase_order


def _purchase_order_settle(*, purchase_order_id: int) -> PurchaseOrder:
    """An on-hold purchase order whose held lines are all dealt with goes back to
    ``confirmed`` (``cancelled`` when no line is left to buy)."""
    with transaction.atomic():
        purchase_order = _lock(purchase_order_id)
        if purchase_order.status != PurchaseOrder.Status.ON_HOLD or not purchase_order.external_id:
            return purchase_order
        statuses = set(purchase_order.lines.values_list("status", flat=True))
        if PurchaseOrderLine.Status.ON_HOLD in statuses:
            return purchase_order
        live = statuses - {PurchaseOrderLine.Status.CANCELLED}
        if not live:
            purchase_order.status = PurchaseOrder.Status.CANCELLED
        elif live == {PurchaseOrderLine.Status.DONE}:
            purchase_order.status = (
                PurchaseOrder.Status.SHIPPED
                if purchase_order.kind == PurchaseOrder.Kind.CROSS_BORDER
                else PurchaseOrder.Status.RECEIVED
            )
        else:
            purchase_order.status = PurchaseOrder.Status.CONFIRMED
        purchase_order.hold_reason = ""
        purchase_order.save(update_fields=["status", "hold_reason", "updated_at"])
        return purchase_order


def purchase_orders_refresh_due() -> int:
    """Poll every sent purchase order still moving; return how many were polled. One that
    fails does not stop the others; raises ``SourcingUnavailable`` at the end if any
    failed, so the task retries."""
    due_ids = list(
        PurchaseOrder.objects.filter(external_id__isnull=False, status__in=POLLED_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    polled = 0
    failures: list[str] = []
    for purchase_order_id in due_ids:
        try:
            purchase_order_refresh(purchase_order_id=purchase_order_id)
        except SourcingUnavailable as exc:
            failures.append(f"{purchase_order_id}: {exc.message}")
            continue
        except ApplicationError as exc:  # e.g. a refused id or shipment: log, go on
            logger.error("purchase order %s not refreshed: %s", purchase_order_id, exc.message)
            continue
        polled += 1
    if failures:
        raise SourcingUnavailable("; ".join(failures))
    return polled


def purchase_order_line_cancel(*, line_id: int, actor_id: int | None) -> None:
    """Staff cancel a held line (Amazon would not sell it as expected): the line is
    cancelled, its purchase order settles (``confirmed`` or ``cancelled`` when no line is
    left on hold), and, for a customer's line, ``purchase_order_line.cancelled``
    ``{order_id, order_line_id, quantity, ...}`` is published in the same transaction so
    the orders app refunds the units. Cancelling a cancelled line does nothing (no second
    event). Raises ``PurchaseOrderLineNotHeld`` for any other line."""
    with transaction.atomic():
        line = (
            PurchaseOrderLine.objects.select_for_update(of=("self",))
            .select_related("order_line")
            .filter(pk=line_id)
            .first()
        )
        if line is not None and line.status == PurchaseOrderLine.Status.CANCELLED:
            return
        if line is None or line.status != PurchaseOrderLine.Status.ON_HOLD:
            raise PurchaseOrderLineNotHeld(
                _("Only a purchase-order line on hold can be cancelled here.")
            )
        line.status = PurchaseOrderLine.Status.CANCELLED
        line.save(update_fields=["status"])
        if line.order_line_id:
            event_publish(
                topic="purchase_order_line.cancelled",
                aggregate_type="purchase_order_line",
                aggregate_id=line.pk,
                payload={
                    "order_id": line.order_line.order_id,
                    "order_line_id": line.order_line_id,
                    "quantity": line.quantity,
                    "purchase_order_id": line.purchase_order_id,
                    "purchase_order_line_id": line.pk,
                    "reason": line.hold_reason,
                    "actor_id": actor_id,
                },
            )
        logger.info(
            "purchase-order line %s cancelled by user %s (%s)", line.pk, actor_id, line.hold_reason
        )
        _purchase_order_settle(purchase_order_id=line.purchase_order_id)
