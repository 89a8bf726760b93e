"""Membership background work (thin: each task calls one service; safe to repeat)."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from .selectors import discount_day
from .services.holds import points_holds_sweep as holds_sweep
from .services.reconciliation import points_reconcile


@shared_task(
    name="membership.tasks.points_holds_sweep",
    acks_late=True,
    soft_time_limit=240,
    time_limit=300,
)
def points_holds_sweep() -> int:
    """Settle point holds that outlived their order or whose capture/release is stuck
    (beat); returns how many changed."""
    return holds_sweep()


@shared_task(
    name="membership.tasks.points_reconcile_yesterday",
    acks_late=True,
    soft_time_limit=540,
    time_limit=600,
)
def points_reconcile_yesterday(day: str | None = None) -> int:
    """Compare yesterday's (Seoul) local ledger with the carrier's transactions (beat,
    daily); ``day`` (YYYY-MM-DD) runs another day. Returns the run's id."""
    target = (
        datetime.date.fromisoformat(day)
        if day
        else discount_day(timezone.now()) - datetime.timedelta(days=1)
    )
    return points_reconcile(day=target).pk
