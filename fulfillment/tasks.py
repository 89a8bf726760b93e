"""Fulfillment background tasks (thin: each calls one service; safe to repeat)."""

from __future__ import annotations

from celery import shared_task

from fulfillment.services.reservations import stock_reservations_expire
from fulfillment.services.restock import restock_scan
from fulfillment.services.shipments import tracking_poll_due
from fulfillment.services.sourcing import (
    purchase_orders_refresh_due,
    purchase_orders_submit_due,
)
from fulfillment.sourcing_client import SourcingUnavailable


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


@shared_task(
    name="fulfillment.tasks.restock_scan",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
)
def restock_scan_task(run_key: str | None = None) -> int:
    """Raise replenishment purchase orders for stock under its reorder point (beat, every
    ``RESTOCK_SCAN_SECONDS``); returns the lines ordered. Safe to repeat or redeliver: a
    need already on order is not ordered again, and the run key (Seoul hour by default)
    allows one order per warehouse per run."""
    return restock_scan(run_key=run_key).lines


@shared_task(
    name="fulfillment.tasks.tracking_poll",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
)
def tracking_poll_task() -> int:
    """Ask the carriers about parcels whose next poll is due and record their events (beat,
    every ``TRACKING_POLL_SECONDS``); returns the new events stored. Idempotent: a repeated
    or overlapping run stores nothing twice."""
    return tracking_poll_due()


@shared_task(
    name="fulfillment.tasks.purchase_orders_submit",
    acks_late=True,
    autoretry_for=(SourcingUnavailable,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=240,
    time_limit=300,
)
def purchase_orders_submit_task() -> int:
    """Send due purchase orders to Amazon (beat, every ``SOURCING_SUBMIT_EVERY_SECONDS``);
    returns how many were answered. Safe to repeat or redeliver: each purchase order is
    sent with its own idempotency key, so Amazon never gets two orders for it."""
    return purchase_orders_submit_due()


@shared_task(
    name="fulfillment.tasks.purchase_orders_refresh",
    acks_late=True,
    autoretry_for=(SourcingUnavailable,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=240,
    time_limit=300,
)
def purchase_orders_refresh_task() -> int:
    """Poll sent purchase orders (beat, every ``SOURCING_REFRESH_EVERY_SECONDS``): shipped
    ones get their international shipments, delivered replenishments are received; returns
    how many were polled. Idempotent: shipments and receipts are written once."""
    return purchase_orders_refresh_due()
