"""Client for the USD→KRW rate source (the sandbox locally, a real publisher in production).

Real HTTP with a timeout (``FX_RATE_TIMEOUT_SECONDS``), a small bounded retry for transient
failures (connection errors and 5xx answers) and strict validation of the answer. Failures
raise ``FxSourceUnavailable`` (try again later) or ``FxSourceInvalid`` (the source answered
something we must not store); the refresh service keeps the last good rate on either.

Expected answer of ``GET <FX_RATE_SOURCE_URL>?base=USD``::

    {"base": "USD", "quote": "KRW", "source": "...",
     "rates": {"selling": {"rate": "1391.50", "published_at": "2025-06-02T09:00:00+09:00"},
               "customs": {"rate": "1388.20", "published_at": "2025-05-30T10:00:00+09:00",
                           "valid_from": "2025-06-01", "valid_to": "2025-06-07"}}}

Rates may be JSON strings or numbers; they are read as ``Decimal``, never as floats.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from django.conf import settings
from django.utils import timezone

from storefront.errors import ApplicationError

SEOUL = ZoneInfo("Asia/Seoul")  # customs weeks run Sunday–Saturday in Korean time

logger = logging.getLogger(__name__)

# Transient failures are retried this many times in all, with a short growing pause; the
# Celery task adds slower retries on top, so this only smooths over a blip.
MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.2
# A USD→KRW rate outside this band is a broken feed (wrong unit, wrong pair), not a market.
PLAUSIBLE_RATE_MIN = Decimal("500")
PLAUSIBLE_RATE_MAX = Decimal("5000")
RATE_PLACES = Decimal("0.0001")  # ExchangeRate.rate has 4 decimal places
# Publication times may run slightly ahead of our clock, never far: a rate "published" in
# the future would otherwise stay current until that time.
MAX_CLOCK_SKEW = timedelta(minutes=10)
RATE_KINDS = ("selling", "customs")


class FxSourceError(ApplicationError):
    """The rate source could not give us a rate we can use."""

    code = "fx_source_error"


class FxSourceUnavailable(FxSourceError):
    """The source did not answer usefully (connection, timeout, 5xx): worth retrying."""

    code = "fx_source_unavailable"


class FxSourceInvalid(FxSourceError):
    """The source answered, but the answer is malformed or implausible: do not store it."""

    code = "fx_source_invalid"


@dataclass(frozen=True)
class PublishedRate:
    """One USD→KRW rate as the source published it (``kind`` is "selling" or "customs")."""

    kind: str
    rate: Decimal
    published_at: datetime
    # When the rate takes effect: its publication for the selling rate, the first day of
    # its week (00:00 in Seoul) for the customs rate published the Friday before.
    effective_at: datetime


@dataclass(frozen=True)
class FxQuote:
    """A validated answer of the rate source."""

    base_currency: str
    quote_currency: str
    source: str
    selling: PublishedRate
    customs: PublishedRate

    @property
    def rates(self) -> tuple[PublishedRate, PublishedRate]:
        return (self.selling, self.customs)


def redact_url(url: str | httpx.URL) -> str:
    """The URL without credentials or query string (API keys live there): safe to log."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


class FxRateClient:
    """Fetches the current USD→KRW rates. Defaults come from settings."""

    def __init__(
        self,
        *,
        url: str | None = None,
        timeout_seconds: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        self.url = url or settings.FX_RATE_SOURCE_URL
        self.timeout_seconds = (
            timeout_seconds if timeout_seconds is not None else settings.FX_RATE_TIMEOUT_SECONDS
        )
        self.max_attempts = max_attempts or MAX_ATTEMPTS

    def fetch(self) -> FxQuote:
        """Fetch and validate the current selling and customs rates.

        Retries connection errors and 5xx answers up to ``max_attempts`` in all. A read
        timeout is not retried here: the source is slow, and waiting again would multiply
        the caller's wait (the Celery task retries later instead).

        Raises ``FxSourceUnavailable`` or ``FxSourceInvalid``.
        """
        # Keep any query the configured URL carries (e.g. an API key) and add ours.
        url = httpx.URL(self.url).copy_merge_params({"base": "USD"})
        safe_url = redact_url(url)
        with httpx.Client(timeout=self.timeout_seconds) as http:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    response = http.get(url, headers={"Accept": "application/json"})
                except httpx.TimeoutException as exc:
                    if isinstance(exc, httpx.ConnectTimeout) and attempt < self.max_attempts:
                        self._pause(attempt)
                        continue
                    raise FxSourceUnavailable(
                        f"rate source {safe_url} timed out after {self.timeout_seconds}s"
                    ) from exc
                except httpx.TransportError as exc:
                    if attempt < self.max_attempts:
                        self._pause(attempt)
                        continue
                    raise FxSourceUnavailable(
                        f"rate source {safe_url} unreachable: {type(exc).__name__}"
                    ) from exc
                if response.is_server_error:
                    if attempt < self.max_attempts:
                        self._pause(attempt)
                        continue
                    raise FxSourceUnavailable(
                        f"rate source {safe_url} answered {response.status_code} "
                        f"{self.max_attempts} times"
                    )
                break
        if response.status_code != 200:
            raise FxSourceInvalid(f"rate source {safe_url} answered {response.status_code}")
        return parse_quote(response.content, default_source=url.host)

    @staticmethod
    def _pause(attempt: int) -> None:
        time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1))


def parse_quote(body: bytes, *, default_source: str) -> FxQuote:
    """Validate a rate source answer; raise ``FxSourceInvalid`` on anything unexpected."""
    try:
        payload = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FxSourceInvalid("rate source answered malformed JSON") from exc
    if not isinstance(payload, dict):
        raise FxSourceInvalid("rate source answer is not a JSON object")
    base = payload.get("base", "USD")
    quote = payload.get("quote", "KRW")
    if (base, quote) != ("USD", "KRW"):
        raise FxSourceInvalid(f"rate source answered {base}/{quote}, expected USD/KRW")
    source = payload.get("source") or default_source
    if not isinstance(source, str) or not source.strip():
        raise FxSourceInvalid("rate source name is not a string")
    rates = payload.get("rates")
    if not isinstance(rates, dict):
        raise FxSourceInvalid("rate source answer has no rates object")
    selling, customs = (_parse_rate(kind, rates.get(kind)) for kind in RATE_KINDS)
    return FxQuote(
        base_currency="USD",
        quote_currency="KRW",
        source=source.strip()[:100],
        selling=selling,
        customs=customs,
    )


def _parse_rate(kind: str, entry: Any) -> PublishedRate:
    if not isinstance(entry, dict):
        raise FxSourceInvalid(f"rate source answer has no {kind} rate")
    raw_rate = entry.get("rate")
    if isinstance(raw_rate, bool) or not isinstance(raw_rate, str | Decimal):
        raise FxSourceInvalid(f"{kind} rate is not a number")
    try:
        rate = Decimal(raw_rate)
    except InvalidOperation as exc:
        raise FxSourceInvalid(f"{kind} rate {raw_rate!r} is not a number") from exc
    if not rate.is_finite() or not PLAUSIBLE_RATE_MIN <= rate <= PLAUSIBLE_RATE_MAX:
        raise FxSourceInvalid(
            f"{kind} rate {raw_rate} is outside the plausible USD/KRW band "
            f"{PLAUSIBLE_RATE_MIN}–{PLAUSIBLE_RATE_MAX}"
        )
    raw_published = entry.get("published_at")
    try:
        published_at = datetime.fromisoformat(raw_published)
    except (TypeError, ValueError) as exc:
        raise FxSourceInvalid(f"{kind} publication time {raw_published!r} is invalid") from exc
    if timezone.is_naive(published_at):
        raise FxSourceInvalid(f"{kind} publication time {raw_published!r} has no time zone")
    if published_at > timezone.now() + MAX_CLOCK_SKEW:
        raise FxSourceInvalid(f"{kind} publication time {raw_published} is in the future")
    effective_at = published_at
    raw_valid_from = entry.get("valid_from")
    if raw_valid_from is not None:
        try:
            valid_from = date.fromisoformat(raw_valid_from)
        except (TypeError, ValueError) as exc:
            raise FxSourceInvalid(f"{kind} valid_from {raw_valid_from!r} is invalid") from exc
        effective_at = datetime.combine(valid_from, clock_time.min, tzinfo=SEOUL)
    return PublishedRate(
        kind=kind,
        rate=rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP),
        published_at=published_at,
        effective_at=effective_at,
    )
