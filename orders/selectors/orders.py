"""Reads of orders, with their joins and the ownership check built in."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from ..models import Order, OrderStatusChange, Payment


def orders_for_customer(*, customer) -> QuerySet[Order]:
    """The shopper's orders, newest first (list page: no per-row queries)."""
    return Order.objects.filter(customer=customer).order_by("-placed_at", "-id")


def order_get_for_customer(*, customer, number: str) -> Order:
    """One of the shopper's orders with its lines, payments, history and shipments (with
    their tracking events, oldest first, and lines); another shopper's order number is a
    404, exactly like a number that does not exist."""
    return get_object_or_404(
        Order.objects.prefetch_related(
            "lines",
            Prefetch("payments", queryset=Payment.objects.order_by("-created_at", "-id")),
            Prefetch(
                "status_changes", queryset=OrderStatusChange.objects.order_by("created_at", "id")
            ),
            "payments__refunds",
            "shipments__events",
            "shipments__lines",
        ),
        number=number,
        customer=customer,
    )
