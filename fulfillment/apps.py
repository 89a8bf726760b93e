from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    """Warehouses and stock now; later reservations, allocations, cross-border purchase
    orders, shipments, tracking events and restock."""

    name = "fulfillment"
    verbose_name = "Fulfillment"
