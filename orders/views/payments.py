"""The payment page (Stripe.js card Element + ``confirmCardPayment``) and Stripe's webhook.

The page the shopper returns to only displays state: the webhook (or the reconciliation
task) is what marks an order paid."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..models import Order
from ..payment_messages import payment_error_messages
from ..selectors.orders import order_get_for_customer
from ..services import payments as payment_services
from ..stripe_client import StripeSignatureInvalid, StripeUnavailable, webhook_event_construct

logger = logging.getLogger(__name__)


@login_required
def pay(request: HttpRequest, number: str) -> HttpResponse:
    order = order_get_for_customer(customer=request.user, number=number)
    if order.status != Order.Status.PENDING_PAYMENT:
        return redirect(order)
    payment = None
    unavailable = False
    try:
        payment = payment_services.payment_intent_ensure(order_id=order.pk)
    except StripeUnavailable:
        unavailable = True
    except payment_services.PaymentNotPayable:
        return redirect(order)
    return render(
        request,
        "orders/pay.html",
        {
            "order": order,
            "payment": payment,
            "unavailable": unavailable,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "payment_messages": payment_error_messages(),
        },
    )


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events. A bad or stale signature is refused with 400 and nothing is
    written; each event id is applied once."""
    try:
        event = webhook_event_construct(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature", "")
        )
    except StripeSignatureInvalid as exc:
        logger.warning("stripe webhook refused: %s", exc.message)
        return HttpResponseBadRequest("invalid signature")
    payment_services.stripe_event_receive(event=event)
    return HttpResponse(status=200)


urlpatterns: list[URLPattern] = [
    path("orders/<str:number>/pay/", pay, name="pay"),
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
]
