from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    """Warehouses and stock, reservations at checkout, allocations at payment, cross-border
    and replenishment purchase orders, shipments, tracking events and restock."""

    name = "fulfillment"
    verbose_name = "Fulfillment"

    def ready(self) -> None:
        from . import subscribers  # noqa: F401
