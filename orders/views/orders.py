"""The shopper's orders: list, detail (lines, split, quote as paid, timeline), a status
poll for the page that waits for payment, and cancellation before shipping."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fulfillment.tracking_client import CARRIER_NAMES
from storefront.errors import ApplicationError

from ..lifecycle import CANCELLABLE
from ..models import OrderStatusChange
from ..payment_messages import payment_error_message
from ..selectors.orders import order_get_for_customer, orders_for_customer
from ..services import payments as payment_services

ORDERS_PER_PAGE = 20


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(orders_for_customer(customer=request.user), ORDERS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "orders/order_list.html", {"page": page})


@login_required
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = order_get_for_customer(customer=request.user, number=number)
    payments = list(order.payments.all())
    latest_payment = payments[0] if payments else None
    refunds = [refund for payment in payments for refund in payment.refunds.all()]
    lines = list(order.lines.all())
    shipments = list(order.shipments.all())
    for shipment in shipments:
        shipment.carrier_name = CARRIER_NAMES.get(shipment.carrier, shipment.carrier)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "lines": lines,
            "has_domestic": any(line.domestic_quantity for line in lines),
            "history": list(order.status_changes.all()),
            "latest_payment": latest_payment,
            "refunds": refunds,
            "shipments": shipments,
            "can_cancel": order.status in CANCELLABLE,
            "can_pay": order.status == order.Status.PENDING_PAYMENT,
        },
    )


@login_required
def order_status(request: HttpRequest, number: str) -> JsonResponse:
    """What the order page polls while it waits for the payment webhook."""
    order = order_get_for_customer(customer=request.user, number=number)
    payment = order.payments.all()[0] if order.payments.all() else None
    return JsonResponse(
        {
            "status": order.status,
            "label": str(order.get_status_display()),
            "payment_error": payment_error_message(
                payment.last_error_code, payment.last_error_message
            )
            if payment
            else "",
        }
    )


@require_POST
@login_required
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = order_get_for_customer(customer=request.user, number=number)
    try:
        payment_services.order_cancel(
            order_id=order.pk,
            actor_type=OrderStatusChange.ActorType.CUSTOMER,
            actor_id=request.user.pk,
            reason="cancelled by the customer",
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your order was cancelled."))
    return redirect(order)


urlpatterns: list[URLPattern] = [
    path("orders/", order_list, name="list"),
    path("orders/<str:number>/", order_detail, name="detail"),
    path("orders/<str:number>/status/", order_status, name="status"),
    path("orders/<str:number>/cancel/", order_cancel, name="cancel"),
]
