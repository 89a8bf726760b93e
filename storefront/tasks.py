"""The outbox's background tasks (thin: each calls one service in storefront.events)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import events


class OutboxDeliveryIncomplete(Exception):
    """Some subscriber of the event failed this time; the relay retries with backoff."""


@shared_task(
    name="storefront.tasks.outbox_relay",
    acks_late=True,
    # A subscriber failure, or the database going away under the worker.
    autoretry_for=(OutboxDeliveryIncomplete, OperationalError, InterfaceError),
    retry_backoff=5,  # 5 s, 10 s, 20 s, ... up to 10 minutes (with jitter)
    retry_backoff_max=600,
    max_retries=10,
)
def outbox_relay(event_id: int) -> dict[str, object]:
    """Deliver one outbox event to its subscribers (idempotent: succeeded subscribers are
    not run again, a dispatched event is left alone).

    Retried with backoff while a subscriber fails; after ``max_retries`` the event stays
    undispatched and the beat sweep enqueues it again when its backoff is over. A
    subscriber that is running in another worker (``busy``) is left to that worker.
    """
    outcome = events.event_deliver(event_id=event_id)
    if outcome.failed:
        raise OutboxDeliveryIncomplete(
            f"outbox event {event_id}: {', '.join(outcome.failed)} failed"
        )
    return outcome.as_dict()


@shared_task(
    name="storefront.tasks.outbox_sweep", acks_late=True, soft_time_limit=60, time_limit=90
)
def outbox_sweep() -> int:
    """Enqueue the relay for undispatched events that are due (beat runs it every
    ``OUTBOX_SWEEP_EVERY_SECONDS``): events whose relay was never enqueued (broker down at
    commit), was lost, or ran out of retries. Returns how many were enqueued."""
    return events.events_relay_due()


# --- Partner webhooks (storefront/partners.py) -------------------------------------------


@shared_task(
    name="storefront.tasks.partner_webhook_deliver",
    acks_late=True,
    # Only the database going away is retried here; a failing partner endpoint is recorded
    # as an attempt and retried by the sweep at the delivery's own backoff.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def partner_webhook_deliver(delivery_id: int) -> str:
    """Send one partner webhook delivery if it is due (idempotent: a delivered or
    abandoned delivery is left alone, one not yet due waits for the sweep). Returns the
    delivery's status."""
    from . import partners

    return partners.partner_webhook_send(delivery_id=delivery_id).status


@shared_task(
    name="storefront.tasks.partner_webhook_sweep",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def partner_webhook_sweep() -> int:
    """Enqueue every pending delivery whose next try is due (beat, every minute).
    Returns how many were enqueued."""
    from . import partners

    due = partners.partner_webhook_deliveries_due()
    for delivery_id in due:
        partner_webhook_deliver.delay(delivery_id)
    return len(due)
