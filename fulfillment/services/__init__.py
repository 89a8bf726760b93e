"""Fulfillment writes: ``warehouses`` (warehouses and demo stock), ``stock`` (staff edits).
Later: reservations, allocations, purchase orders, shipments, restock."""
