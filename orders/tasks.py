"""Orders background work (thin: each task calls services; all are safe to repeat)."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import Order, Payment, Refund
from .services import payments
from .stripe_client import StripeUnavailable

logger = logging.getLogger(__name__)


@shared_task(
    name="orders.tasks.refund_submit_task",
    acks_late=True,
    autoretry_for=(StripeUnavailable,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=10,
    soft_time_limit=60,
    time_limit=90,
)
def refund_submit_task(refund_id: int) -> str:
    """Send a pending refund to Stripe with its stored idempotency key (never twice)."""
    return payments.refund_submit(refund_id=refund_id).status


@shared_task(name="orders.tasks.orders_expire_unpaid", acks_late=True, time_limit=300)
def orders_expire_unpaid(limit: int = 200) -> int:
    """Cancel unpaid orders past their payment window, releasing their stock (beat, every
    minute). An order whose PaymentIntent turns out to have succeeded is marked paid."""
    due = Order.objects.filter(
        status=Order.Status.PENDING_PAYMENT, payment_due_at__lte=timezone.now()
    ).values_list("pk", flat=True)[:limit]
    cancelled = 0
    for order_id in due:
        try:
            cancelled += payments.order_expire(order_id=order_id)
        except StripeUnavailable:
            logger.warning("order %s not expired yet: Stripe unavailable", order_id)
    return cancelled


@shared_task(name="orders.tasks.payments_reconcile_pending", acks_late=True, time_limit=300)
def payments_reconcile_pending(limit: int = 200) -> int:
    """Ask Stripe about PaymentIntents of orders still awaiting payment a while after they
    were created, in case a webhook never arrived (beat)."""
    older_than = timezone.now() - datetime.timedelta(
        seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS
    )
    candidates = Payment.objects.filter(
        order__status__in=[Order.Status.PENDING_PAYMENT, Order.Status.CANCELLED],
        status__in=[
            Payment.Status.REQUIRES_PAYMENT,
            Payment.Status.PROCESSING,
            Payment.Status.FAILED,
        ],
        payment_intent_id__isnull=False,
        updated_at__lte=older_than,
        created_at__gte=timezone.now() - datetime.timedelta(days=2),
    ).values_list("pk", flat=True)[:limit]
    changed = 0
    for payment_id in candidates:
        try:
            status = payments.payment_reconcile(payment_id=payment_id)
        except StripeUnavailable:
            logger.warning("payment %s not reconciled: Stripe unavailable", payment_id)
            continue
        changed += status == "succeeded"
    return changed


@shared_task(name="orders.tasks.refunds_retry_pending", acks_late=True, time_limit=300)
def refunds_retry_pending(limit: int = 200) -> int:
    """Resubmit refunds left pending (Stripe was down) with their own idempotency keys."""
    older_than = timezone.now() - datetime.timedelta(minutes=1)
    pending = Refund.objects.filter(
        status=Refund.Status.PENDING, created_at__lte=older_than
    ).values_list("pk", flat=True)[:limit]
    done = 0
    for refund_id in pending:
        try:
            done += payments.refund_submit(refund_id=refund_id).status == Refund.Status.SUCCEEDED
        except StripeUnavailable:
            logger.warning("refund %s still pending: Stripe unavailable", refund_id)
    return done
