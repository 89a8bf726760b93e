"""Shopper URLs of the orders app (cart, addresses, checkout, payment, orders)."""

from .views import addresses, cart, checkout, orders, payments

app_name = "orders"

urlpatterns = [
    *cart.urlpatterns,
    *addresses.urlpatterns,
    *checkout.urlpatterns,
    *payments.urlpatterns,
    *orders.urlpatterns,
]
