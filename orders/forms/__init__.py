"""Orders forms, one module per area (addresses, carts, checkout, orders, payments)."""
