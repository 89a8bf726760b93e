"""Per-partner rate limit: ``Partner.rate_limit_per_minute`` requests per minute, counted
in the default cache (Redis in production, so every web process shares the count).

On Redis the count costs one round trip: a pipeline of ``INCR`` and ``EXPIRE … NX``.
Other caches (local memory in development and SQLite test runs) use ``add`` then
``incr``; both store the counter as a plain integer, so the two agree on its value."""

from __future__ import annotations

import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from . import partner_of

WINDOW_SECONDS = 60
# A window's counter outlives its window a little, then disappears by itself.
COUNTER_TIMEOUT = WINDOW_SECONDS + 5


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
        cache = caches["default"]
        if isinstance(cache, RedisCache):
            count = counter_incr_redis(cache, key)
        else:
            count = counter_incr(cache, key)
        return count <= partner.rate_limit_per_minute

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


def counter_incr_redis(cache: RedisCache, key: str) -> int:
    """Count one request in the window's counter on Redis, in one round trip: ``INCR``
    creates the counter at 1 or adds 1 (atomically, across processes), ``EXPIRE … NX``
    gives it its timeout only when it has none (Redis ≥ 7), so the first request of the
    window sets it and a counter left without one gets it from the next request.

    Uses Django's private ``RedisCache._cache.get_client`` (Django 5.2): the public cache
    API has no pipeline and its ``incr`` costs ``EXISTS`` + ``INCRBY``. The key is
    ``make_key``'s, so it is the counter the generic path would use."""
    redis_key = cache.make_key(key)
    client = cache._cache.get_client(redis_key, write=True)
    pipeline = client.pipeline(transaction=False)
    pipeline.incr(redis_key)
    pipeline.expire(redis_key, COUNTER_TIMEOUT, nx=True)
    count, _timeout_set = pipeline.execute()
    return int(count)


def counter_incr(cache, key: str) -> int:
    """Count one request with the generic cache API (any backend): ``add`` is atomic, so
    only the first request of the window creates the counter; the others ``incr`` it."""
    if cache.add(key, 1, timeout=COUNTER_TIMEOUT):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=COUNTER_TIMEOUT)
        return 1
