"""The per-partner rate limit on both counting paths (storefront/api/throttles.py): Redis
(one round trip: ``INCR`` + ``EXPIRE … NX`` in a pipeline; needs ``REDIS_URL``) and the
generic cache API (local memory). Same semantics on both: fixed one-minute windows, the
request beyond the partner's limit gets 429 with ``Retry-After``."""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.urls import path
from redis.connection import Connection
from rest_framework.response import Response
from rest_framework.views import APIView

from storefront.api import PartnerUser
from storefront.api.throttles import (
    COUNTER_TIMEOUT,
    WINDOW_SECONDS,
    PartnerRateThrottle,
    counter_incr,
    counter_incr_redis,
)
from storefront.models import Partner
from tests.fixtures.core import unavailable

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.test_throttle_redis")]


class Ping(APIView):
    required_scopes = {"GET": "catalog:read"}

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("ping/", Ping.as_view())]


class Request:
    """What the throttle reads of a request: the partner behind its key."""

    def __init__(self, partner: Partner) -> None:
        self.user = PartnerUser(partner)


def window_key(partner: Partner) -> str:
    window = int(time.time() // WINDOW_SECONDS)
    return PartnerRateThrottle.cache_format.format(partner_id=partner.pk, window=window)


def limited_to_three(partner: Partner, other_partner: Partner, api_client) -> None:
    """Three requests pass, the fourth is 429 with Retry-After; another partner's budget
    is its own. (Retried once if a window boundary fell in between.)"""
    Partner.objects.filter(pk=partner.pk).update(rate_limit_per_minute=3)
    client, other = api_client(partner), api_client(other_partner)
    for _attempt in range(2):
        window = int(time.time() // WINDOW_SECONDS)
        statuses = [client.get("/ping/").status_code for _ in range(4)]
        if int(time.time() // WINDOW_SECONDS) == window:
            break
        time.sleep(1)  # a new window began mid-way: count again in this one
    assert statuses == [200, 200, 200, 429]
    response = client.get("/ping/")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= WINDOW_SECONDS
    assert other.get("/ping/").status_code == 200


@pytest.fixture
def redis_cache() -> RedisCache:
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        unavailable("needs Redis: set REDIS_URL=redis://... to run it")
    return cache


@pytest.fixture
def local_memory_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return caches["default"]


# --- Redis ----------------------------------------------------------------------------------


def test_redis_limit_and_retry_after(redis_cache, partner, other_partner, api_client):
    limited_to_three(partner, other_partner, api_client)
    key = redis_cache.make_key(window_key(partner))
    client = redis_cache._cache.get_client(key)
    assert int(client.get(key)) >= 4  # the refused requests count too
    assert 0 < client.ttl(key) <= COUNTER_TIMEOUT


def test_redis_counts_in_one_round_trip(redis_cache, partner, monkeypatch):
    throttle, request = PartnerRateThrottle(), Request(partner)
    assert throttle.allow_request(request, view=None)  # connects (HELLO/SELECT) if needed
    writes: list[bytes] = []
    send = Connection.send_packed_command

    def counting_send(connection, command, *args, **kwargs):
        writes.append(command)
        return send(connection, command, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", counting_send)
    assert throttle.allow_request(request, view=None)
    monkeypatch.undo()
    assert len(writes) == 1  # INCR and EXPIRE NX in one write, answered together
    key = redis_cache.make_key(window_key(partner))
    assert int(redis_cache._cache.get_client(key).get(key)) == 2


def test_redis_counter_without_a_timeout_gets_one(redis_cache, partner):
    key = "api-throttle:test:orphan"
    redis_key = redis_cache.make_key(key)
    client = redis_cache._cache.get_client(redis_key, write=True)
    client.set(redis_key, 5)  # e.g. left by a process that died between the two commands
    assert client.ttl(redis_key) == -1
    assert counter_incr_redis(redis_cache, key) == 6
    assert 0 < client.ttl(redis_key) <= COUNTER_TIMEOUT


def test_redis_and_generic_paths_share_the_counter(redis_cache):
    """During a deploy old processes (generic add/incr) and new ones (pipeline) count
    together."""
    key = "api-throttle:test:shared"
    assert counter_incr(redis_cache, key) == 1
    assert counter_incr_redis(redis_cache, key) == 2
    assert counter_incr(redis_cache, key) == 3
    assert redis_cache.get(key) == 3


# --- Any other cache (the generic path) -------------------------------------------------------


def test_generic_limit_and_retry_after(local_memory_cache, partner, other_partner, api_client):
    limited_to_three(partner, other_partner, api_client)
    assert local_memory_cache.get(window_key(partner)) >= 4


def test_generic_counter_restarts_after_it_expires(local_memory_cache):
    key = "api-throttle:test:expired"
    assert counter_incr(local_memory_cache, key) == 1
    assert counter_incr(local_memory_cache, key) == 2
    local_memory_cache.delete(key)  # the window's counter timed out
    assert counter_incr(local_memory_cache, key) == 1
