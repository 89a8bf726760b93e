from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """The cart, checkout, Korean addresses, the customs profile (PCCC), orders and their
    lines, Stripe payments, refunds, cancellations and order status history."""

    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import fulfillment_subscribers, shipping_subscribers, subscribers  # noqa: F401
        from .cart_session import cart_merge_on_login

        user_logged_in.connect(cart_merge_on_login, dispatch_uid="orders.cart_merge_on_login")
