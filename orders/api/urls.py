"""Partner API URLs of orders (mounted under /api/v1/; docs/api.md)."""

from django.urls import path

from . import views

urlpatterns = [
    path("quotes/", views.QuoteView.as_view(), name="quote-create"),
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<str:number>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path(
        "orders/<str:number>/shipments/",
        views.OrderShipmentsView.as_view(),
        name="order-shipments",
    ),
]
