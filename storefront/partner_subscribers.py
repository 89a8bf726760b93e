"""Partner webhooks from the outbox: the order events a partner receives for its own
orders (docs/api.md, "Webhooks"). Imported from ``StorefrontConfig.ready()``.

Each subscriber records one ``PartnerWebhookDelivery`` per (partner, event) — a unique
constraint, so a redelivered event records nothing new — and enqueues the send after
commit. Shopper orders (no partner), partners without a webhook URL and inactive partners
get nothing.
"""

from __future__ import annotations

from storefront.events import subscriber
from storefront.models import OutboxEvent

from . import partners

# What orders/lifecycle.py (EVENT_FOR_STATUS) and orders/services/payments.py publish.
PARTNER_TOPICS = (
    "order.paid",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "order.refunded",
)


@subscriber(*PARTNER_TOPICS)
def partner_webhook_on_order_event(event: OutboxEvent) -> None:
    """Queue the event for the order's partner, once."""
    from orders.models import Order

    order = (
        Order.objects.select_related("partner")
        .filter(pk=int(event.payload.get("order_id", event.aggregate_id)), partner__isnull=False)
        .first()
    )
    if order is None or not order.partner.is_active or not order.partner.webhook_url:
        return
    delivery, created = partners.partner_webhook_delivery_create(
        partner_id=order.partner_id, event_id=event.pk, topic=event.topic
    )
    if created:
        partners.partner_webhook_enqueue_on_commit(delivery.pk)
