"""Shopper pages of the orders app, one module per area. Each module exposes its own
``urlpatterns``; ``orders/urls.py`` joins them under the ``orders`` namespace."""
