"""Fulfillment writes: ``warehouses`` (warehouses and demo stock), ``stock`` (staff edits),
``reservations`` (domestic stock held at checkout), ``allocation`` (paid orders promised to
stock or a cross-border purchase order), ``sourcing`` (purchase orders to Amazon),
``shipments`` (parcels and tracking), ``restock`` (replenishment and receipts).

The checkout API is exported here so other apps call ``fulfillment.services.stock_reserve``
with plain values and never reach into the modules."""

from .allocation import (
    AllocatedLine,
    AllocationInconsistent,
    AllocationOrderMissing,
    AllocationResult,
    order_allocate,
    order_allocations_release,
)
from .reservations import (
    ReservationConflict,
    ReservationInconsistent,
    ReservationLinesInvalid,
    ReservationRequest,
    ReservationResult,
    ReservationsReleased,
    ReservedLine,
    stock_reservations_expire,
    stock_reservations_release,
    stock_reserve,
)
from .restock import (
    ReceiptExceedsOrdered,
    ReceiptInvalid,
    RestockResult,
    replenishment_receive,
    restock_scan,
)

__all__ = [
    "AllocatedLine",
    "AllocationInconsistent",
    "AllocationOrderMissing",
    "AllocationResult",
    "ReceiptExceedsOrdered",
    "ReceiptInvalid",
    "ReservationConflict",
    "ReservationInconsistent",
    "ReservationLinesInvalid",
    "ReservationRequest",
    "ReservationResult",
    "ReservationsReleased",
    "ReservedLine",
    "RestockResult",
    "order_allocate",
    "order_allocations_release",
    "replenishment_receive",
    "restock_scan",
    "stock_reservations_expire",
    "stock_reservations_release",
    "stock_reserve",
]
