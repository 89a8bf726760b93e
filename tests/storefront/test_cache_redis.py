"""storefront.cache_redis: Django's Redis cache, with one ``redis.Redis`` per pool instead
of a new one per operation. Runs against the Redis the suite uses (REDIS_URL)."""

from __future__ import annotations

import os
import threading

import pytest

from storefront.cache_redis import ReusingRedisCache
from tests.fixtures.core import unavailable

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(autouse=True)
def _needs_redis() -> None:
    """Skipped without Redis; a failure when CI says the services must be there."""
    if not REDIS_URL:
        unavailable("needs Redis: set REDIS_URL")


def make_cache(location: str) -> ReusingRedisCache:
    return ReusingRedisCache(location, {"KEY_PREFIX": "test-cache-redis"})


def test_operations_reuse_one_client_and_still_work():
    cache = make_cache(REDIS_URL)
    first = cache._cache.get_client(write=True)
    cache.set("probe", {"n": 1}, 30)
    assert cache.get("probe") == {"n": 1}
    assert cache.get_many(["probe", "absent"]) == {"probe": {"n": 1}}
    cache.delete("counter")
    assert cache.add("counter", 0, 30)
    assert cache.incr("counter") == 1
    assert cache._cache.get_client() is first
    assert cache._cache.get_client(write=True) is first
    cache.delete_many(["probe", "counter"])
    assert cache.get("probe") is None


def test_threads_share_the_client_safely():
    cache = make_cache(REDIS_URL)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"t{n}-{i}", i, 30)
                assert cache.get(f"t{n}-{i}") == i
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cache.delete_many([f"t{n}-{i}" for n in range(4) for i in range(50)])


def test_each_server_keeps_its_own_client():
    # Writes go to the first server, reads to the others: one client per pool.
    cache = make_cache(f"{REDIS_URL},{REDIS_URL}")
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client(write=False)
    assert reader is not writer
    assert reader.connection_pool is not writer.connection_pool
    assert cache._cache.get_client(write=False) is reader
