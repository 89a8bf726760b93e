"""Orders selectors, one module per area (addresses, carts, checkout, orders, payments)."""
