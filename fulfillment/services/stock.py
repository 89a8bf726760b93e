"""Staff edits of stock: open a stock row for a product in a warehouse, and set its levels
(units on hand, reorder point, target level).

``allocated`` is not written here: reservations and allocations own it. The database
constraints on ``Stock`` are the rule (``0 <= allocated <= on_hand``, target level not
under the reorder point); these services lock the row, let the database decide, and turn
a refusal into an ``ApplicationError`` that names the field, so a caller can show it next
to the input instead of failing.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from storefront.errors import ApplicationError

from ..models import Stock

ALLOCATED_WITHIN_ON_HAND = "stock_allocated_within_on_hand"
RESERVED_WITHIN_FREE = "stock_reserved_within_free"
TARGET_NOT_BELOW_REORDER_POINT = "stock_target_not_below_reorder_point"
ONE_ROW_PER_PLACE = "stock_one_row_per_place"


class StockLevelsInvalid(ApplicationError):
    """The levels break a stock rule; ``fields`` says which input is wrong."""

    code = "stock_levels_invalid"


class StockNotFound(ApplicationError):
    code = "stock_not_found"


def _refusal(
    exc: IntegrityError, *, allocated: int, reserved: int = 0
) -> StockLevelsInvalid | None:
    """Which stock constraint the database refused, as an error for the right field.

    Both PostgreSQL and SQLite name the violated constraint in the message.
    """
    text = str(exc)
    if ALLOCATED_WITHIN_ON_HAND in text:
        message = _(
            "Units on hand cannot be fewer than the %(allocated)d units already allocated."
        ) % {"allocated": allocated}
        return StockLevelsInvalid(
            message, code="stock_on_hand_below_allocated", fields={"on_hand": message}
        )
    if RESERVED_WITHIN_FREE in text:
        message = _(
            "Units on hand cannot be fewer than the %(held)d units already allocated or "
            "reserved for orders."
        ) % {"held": allocated + reserved}
        return StockLevelsInvalid(
            message, code="stock_on_hand_below_held", fields={"on_hand": message}
        )
    if TARGET_NOT_BELOW_REORDER_POINT in text:
        message = _("The target level must be at least the reorder point.")
        return StockLevelsInvalid(
            message,
            code="stock_target_below_reorder_point",
            fields={"target_level": message},
        )
    if ONE_ROW_PER_PLACE in text or "UNIQUE constraint failed: fulfillment_stock" in text:
        message = _("This warehouse already has a stock row for this product.")
        return StockLevelsInvalid(message, code="stock_exists", fields={"product": message})
    return None


def _refuse_negative(**levels: int) -> None:
    """Counts are never negative (the columns are unsigned); say so per field."""
    fields = {
        name: _("Enter a whole number of zero or more.")
        for name, value in levels.items()
        if value < 0
    }
    if fields:
        raise StockLevelsInvalid(
            _("Stock levels cannot be negative."), code="stock_level_negative", fields=fields
        )


def stock_set_levels(
    *, stock_id: int, on_hand: int, reorder_point: int, target_level: int
) -> Stock:
    """Set a stock row's units on hand, reorder point and target level; return the row.

    The row is locked (``select_for_update``) so an allocation cannot slip in between the
    read and the write; the database constraints decide what is valid. Raises
    ``StockNotFound``, or ``StockLevelsInvalid`` with code ``stock_on_hand_below_allocated``
    or ``stock_on_hand_below_held`` (units reserved for unpaid orders count; field
    ``on_hand``) or ``stock_target_below_reorder_point`` (field ``target_level``);
    the row is unchanged then.
    """
    _refuse_negative(on_hand=on_hand, reorder_point=reorder_point, target_level=target_level)
    allocated = reserved = 0
    try:
        with transaction.atomic():
            try:
                stock = Stock.objects.select_for_update().get(pk=stock_id)
            except Stock.DoesNotExist as exc:
                raise StockNotFound(
                    _("Stock row %(id)s does not exist.") % {"id": stock_id}
                ) from exc
            allocated, reserved = stock.allocated, stock.reserved
            stock.on_hand = on_hand
            stock.reorder_point = reorder_point
            stock.target_level = target_level
            stock.save(update_fields=["on_hand", "reorder_point", "target_level"])
    except IntegrityError as exc:
        error = _refusal(exc, allocated=allocated, reserved=reserved)
        if error is None:
            raise
        raise error from exc
    return stock


def stock_create(
    *, warehouse_id: int, product_id: int, on_hand: int, reorder_point: int, target_level: int
) -> Stock:
    """Open a stock row for a product in a warehouse (nothing allocated yet); return it.

    Raises ``StockLevelsInvalid`` with code ``stock_exists`` (field ``product``) when the
    warehouse already holds a row for the product, or ``stock_target_below_reorder_point``;
    nothing is written then.
    """
    _refuse_negative(on_hand=on_hand, reorder_point=reorder_point, target_level=target_level)
    stock = Stock(
        warehouse_id=warehouse_id,
        product_id=product_id,
        on_hand=on_hand,
        allocated=0,
        reorder_point=reorder_point,
        target_level=target_level,
    )
    try:
        with transaction.atomic():
            stock.save(force_insert=True)
    except IntegrityError as exc:
        error = _refusal(exc, allocated=0)
        if error is None:
            raise
        raise error from exc
    return stock
