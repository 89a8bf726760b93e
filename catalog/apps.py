from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """Categories, products (by ASIN), customs classes, exchange rates, landed-cost
    pricing, feed import and search."""

    name = "catalog"
    verbose_name = "Catalog"
