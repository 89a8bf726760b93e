from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Will own the cart, checkout, Korean addresses, the customs profile (PCCC), orders and
    their lines, Stripe payments, refunds, cancellations and order status history."""

    name = "orders"
    verbose_name = "Orders"
