"""Fulfillment background tasks (thin: each calls one service; safe to repeat)."""

from __future__ import annotations

from celery import shared_task

from fulfillment.services.reservations import stock_reservations_expire


@shared_task(
    name="fulfillment.tasks.stock_reservations_expire",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
)
def stock_reservations_expire_task() -> int:
    """Release reservations of unpaid orders the order-expiry task missed (beat, every five
    minutes); returns the units given back."""
    return stock_reservations_expire()
