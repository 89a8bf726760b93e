"""Fulfillment writes: ``warehouses`` (warehouses and demo stock), ``stock`` (staff edits),
``reservations`` (domestic stock held at checkout). Later: allocations, purchase orders,
shipments, restock.

The checkout API is exported here so other apps call ``fulfillment.services.stock_reserve``
with plain values and never reach into the modules."""

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

__all__ = [
    "ReservationConflict",
    "ReservationInconsistent",
    "ReservationLinesInvalid",
    "ReservationRequest",
    "ReservationResult",
    "ReservationsReleased",
    "ReservedLine",
    "stock_reservations_expire",
    "stock_reservations_release",
    "stock_reserve",
]
