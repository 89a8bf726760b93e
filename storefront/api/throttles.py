"""Per-partner rate limit: ``Partner.rate_limit_per_minute`` requests per minute, counted
in the default cache (Redis in production, so every web process shares the count)."""

from __future__ import annotations

import time

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from . import partner_of

WINDOW_SECONDS = 60


class PartnerRateThrottle(BaseThrottle):
    """Fixed one-minute windows per partner: the n-th request in a window beyond the
    partner's limit is refused (429, ``Retry-After`` = seconds left in the window).
    Requests without a partner are not counted (authentication refuses them anyway)."""

    cache_format = "api-throttle:partner:{partner_id}:{window}"

    def allow_request(self, request, view) -> bool:
        partner = partner_of(request)
        if partner is None:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        self._wait = WINDOW_SECONDS - (now - window * WINDOW_SECONDS)
        key = self.cache_format.format(partner_id=partner.pk, window=window)
        # add() is atomic: only the first request of the window creates the counter.
        if cache.add(key, 1, timeout=WINDOW_SECONDS + 5):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
                count = 1
        return count <= partner.rate_limit_per_minute

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
