"""Shopper URLs of the catalog. Slugs may be Unicode (``allow_unicode``), so ``str``."""

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("categories/<str:slug>/", views.category, name="category"),
    path("search/", views.search, name="search"),
    path("products/<str:asin>/", views.product, name="product"),
]
