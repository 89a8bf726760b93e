"""Catalog background tasks (thin: each calls one service)."""

from __future__ import annotations

from celery import shared_task

from catalog.fx_client import FxSourceUnavailable
from catalog.services import fx as fx_services


@shared_task(
    name="catalog.tasks.fx_rates_refresh",
    acks_late=True,
    autoretry_for=(FxSourceUnavailable,),
    retry_backoff=30,  # 30 s, 60 s, 120 s, ... (with jitter)
    retry_backoff_max=600,
    max_retries=4,
    soft_time_limit=60,
    time_limit=90,
)
def fx_rates_refresh() -> dict[str, object]:
    """Refresh the USD→KRW rates (beat runs it every FX_REFRESH_SECONDS; idempotent).

    Retried with backoff only while the source is unavailable; an invalid answer is not
    retried (it will not fix itself in a minute: the next scheduled run tries again).
    Either way the last good rate stays current.
    """
    result = fx_services.fx_rates_refresh()
    if result.outcome is fx_services.FxRefreshOutcome.SOURCE_UNAVAILABLE:
        raise FxSourceUnavailable(result.detail)
    return result.as_dict()
