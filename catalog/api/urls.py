"""Partner API URLs of catalog (mounted under /api/v1/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<str:asin>/", views.ProductDetailView.as_view(), name="product-detail"),
]
