"""FX rate refresh: fetch the USD→KRW selling and customs rates and store new publications."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import transaction

from catalog.fx_client import FxRateClient, FxSourceInvalid, FxSourceUnavailable
from catalog.models import ExchangeRate
from catalog.selectors import fx_cache_clear

logger = logging.getLogger(__name__)


class FxRefreshOutcome(StrEnum):
    STORED = "stored"  # at least one new publication stored
    UNCHANGED = "unchanged"  # the source still publishes what we already have
    SOURCE_UNAVAILABLE = "source_unavailable"  # nothing stored; worth retrying
    SOURCE_INVALID = "source_invalid"  # nothing stored; the answer was unusable


@dataclass(frozen=True)
class FxRefreshResult:
    """What one refresh did. ``stored_kinds`` lists the rate kinds that got a new row;
    on a failure nothing was stored, the last good rates stay current and ``detail`` says
    why (safe to log: no credentials)."""

    outcome: FxRefreshOutcome
    stored_kinds: tuple[str, ...] = ()
    selling_rate: Decimal | None = None
    customs_rate: Decimal | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in (FxRefreshOutcome.STORED, FxRefreshOutcome.UNCHANGED)

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": str(self.outcome),
            "stored_kinds": list(self.stored_kinds),
            "selling_rate": str(self.selling_rate) if self.selling_rate is not None else None,
            "customs_rate": str(self.customs_rate) if self.customs_rate is not None else None,
            "detail": self.detail,
        }


def fx_rates_refresh(*, client: FxRateClient | None = None) -> FxRefreshResult:
    """Fetch the current USD→KRW rates and store each new publication, all in one
    transaction, then clear the rate cache once it commits.

    Idempotent: a publication (pair, kind, publication time) is stored once; fetching it
    again stores nothing (``UNCHANGED``). On any source failure nothing is stored, the
    last good rates stay current, a warning is logged and the result says why; it never
    raises for a source failure (the Celery task decides whether to retry).
    """
    client = client or FxRateClient()
    try:
        quote = client.fetch()
    except FxSourceUnavailable as exc:
        logger.warning("FX refresh: keeping the last good rates; %s", exc.message)
        return FxRefreshResult(outcome=FxRefreshOutcome.SOURCE_UNAVAILABLE, detail=exc.message)
    except FxSourceInvalid as exc:
        logger.warning("FX refresh: keeping the last good rates; %s", exc.message)
        return FxRefreshResult(outcome=FxRefreshOutcome.SOURCE_INVALID, detail=exc.message)

    stored: list[str] = []
    with transaction.atomic():
        for published in quote.rates:
            # The unique constraint on the publication makes a concurrent refresh of the
            # same publication harmless: get_or_create re-reads on the IntegrityError.
            row, created = ExchangeRate.objects.get_or_create(
                base_currency=quote.base_currency,
                quote_currency=quote.quote_currency,
                kind=published.kind,
                effective_at=published.effective_at,
                defaults={"rate": published.rate, "source": quote.source},
            )
            if created:
                stored.append(published.kind)
            elif row.rate != published.rate:
                # Publications are immutable here; a source that rewrites one is suspect.
                logger.warning(
                    "FX refresh: %s rate in effect from %s changed from %s to %s at the "
                    "source; keeping the stored rate",
                    published.kind,
                    published.effective_at.isoformat(),
                    row.rate,
                    published.rate,
                )
        if stored:
            transaction.on_commit(fx_cache_clear)

    if stored:
        logger.info(
            "FX refresh: stored %s (selling %s, customs %s) from %s",
            ", ".join(stored),
            quote.selling.rate,
            quote.customs.rate,
            quote.source,
        )
    return FxRefreshResult(
        outcome=FxRefreshOutcome.STORED if stored else FxRefreshOutcome.UNCHANGED,
        stored_kinds=tuple(stored),
        selling_rate=quote.selling.rate,
        customs_rate=quote.customs.rate,
    )
