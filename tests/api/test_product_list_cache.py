"""The partner API product list's response cache (catalog/api/cache.py): an unfiltered page
(``?limit=``, ``?cursor=``) is served from the cache with the very bytes it was built with,
and never once anything it shows has changed: price, domestic stock, a product deactivated,
reactivated, created or edited, the selling rate, ``PRICE_MARGIN``, an import
(``pages_invalidate``), the date. Every request still authenticates, checks the scope and
counts against the partner's own rate limit. Invalid or filtered requests are never cached.

``CATALOG_PAGE_RECHECK_SECONDS`` is 0 in tests (tests/fixtures/core.py); this cache has no
such window anyway.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from catalog import cache as page_cache
from catalog.api import cache as list_cache
from catalog.api.views import ProductListView
from catalog.models import ExchangeRate, Product
from catalog.selectors import FX_CACHE_KEY
from tests.factories import CategoryFactory, ExchangeRateFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("api:v1:product-list")


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    settings.CATALOG_PAGE_CACHE_SECONDS = 300
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture
def partner_client(partner, api_client):
    return api_client(partner, scopes=["catalog:read"])


@pytest.fixture
def products():
    """Six products in id order, the second with domestic stock."""
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    made = [ProductFactory(category=toys, source_price_usd=Decimal("19.99")) for _ in range(6)]
    StockFactory(product=made[1], on_hand=2)
    return made


@pytest.fixture
def stores(monkeypatch) -> list[str]:
    """The cache keys of the pages stored (every store goes through ``entry_store``)."""
    stored: list[str] = []
    real = list_cache.entry_store

    def spy(key, **kwargs):
        stored.append(key)
        return real(key, **kwargs)

    monkeypatch.setattr(list_cache, "entry_store", spy)
    return stored


@contextlib.contextmanager
def page_not_built(monkeypatch):
    """Within: building a list page fails the test (so a 200 came from the cache)."""

    def fail(self):
        raise AssertionError("the page was built, not served from the cache")

    with monkeypatch.context() as patched:
        patched.setattr(ProductListView, "get_queryset", fail)
        yield


def uncached(client, url: str, settings, **extra) -> bytes:
    """The page as it is built now, with the cache off."""
    seconds = settings.CATALOG_PAGE_CACHE_SECONDS
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    try:
        response = client.get(url, **extra)
    finally:
        settings.CATALOG_PAGE_CACHE_SECONDS = seconds
    assert response.status_code == 200
    return response.content


def headers_of(response) -> dict:
    return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}


def second_page_url(client) -> str:
    return client.get(LIST_URL, {"limit": 2}).json()["next"]


# --- Hits --------------------------------------------------------------------------------------


def test_a_hit_serves_the_same_bytes_and_headers_in_one_query(
    partner_client, products, monkeypatch, django_assert_num_queries
):
    urls = [f"{LIST_URL}?limit=2", second_page_url(partner_client), LIST_URL]
    urls.append(partner_client.get(urls[1]).json()["previous"])  # a reverse cursor
    built = [partner_client.get(url) for url in urls]

    for url, first in zip(urls, built, strict=True):
        with page_not_built(monkeypatch), django_assert_num_queries(1):
            again = partner_client.get(url)
        assert again.status_code == 200
        assert again.content == first.content
        assert headers_of(again) == headers_of(first)
        assert again["Content-Type"] == "application/json"


def test_a_miss_costs_the_page_query_only(partner_client, products, django_assert_num_queries):
    partner_client.get(f"{LIST_URL}?limit=3")  # warms the FX rate and the key

    # The page's signature comes from the rows just read: no second query.
    with django_assert_num_queries(1):
        assert partner_client.get(f"{LIST_URL}?limit=2").status_code == 200


def test_the_cached_walk_equals_the_built_walk(partner_client, products, monkeypatch, settings):
    def walk() -> list[bytes]:
        pages, url = [], f"{LIST_URL}?limit=2"
        while url:
            response = partner_client.get(url)
            pages.append(response.content)
            url = response.json()["next"]
        return pages

    built = walk()
    with page_not_built(monkeypatch):
        assert walk() == built
    assert len(built) == 3
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    assert walk() == built


def test_another_partner_gets_the_same_page_but_its_own_auth_and_rate_limit(
    partner_client, other_partner, api_client, products, monkeypatch
):
    url = f"{LIST_URL}?limit=2"
    first = partner_client.get(url)
    other_partner.rate_limit_per_minute = 1
    other_partner.save()
    other = api_client(other_partner, scopes=["catalog:read"])

    with page_not_built(monkeypatch):
        assert other.get(url).content == first.content  # nothing partner-specific in it
        assert other.get(url).status_code == 429  # the other partner's own limit
        assert partner_client.get(url).status_code == 200
        assert api_client(other_partner, scopes=["orders:read"]).get(url).status_code == 403
        partner_client.credentials()
        assert partner_client.get(url).status_code == 401


def test_the_host_and_the_media_type_get_their_own_pages(partner_client, products, settings):
    url = f"{LIST_URL}?limit=2"
    partner_client.get(url)

    other_host = partner_client.get(url, HTTP_HOST="localhost")
    indented = partner_client.get(url, HTTP_ACCEPT="application/json; indent=4")

    assert b"http://localhost/" in other_host.content
    assert b"testserver" not in other_host.content
    assert other_host.content == uncached(partner_client, url, settings, HTTP_HOST="localhost")
    assert indented.content.startswith(b'{\n    "next"')
    assert indented.content == uncached(
        partner_client, url, settings, HTTP_ACCEPT="application/json; indent=4"
    )


# --- Freshness ---------------------------------------------------------------------------------


def _assert_fresh(client, url: str, before: bytes, settings) -> bytes:
    """The next response differs from ``before`` and is the page as built now."""
    after = client.get(url)
    assert after.status_code == 200
    assert after.content != before
    assert after.content == uncached(client, url, settings)
    return after.content


@pytest.mark.parametrize("page", ["first", "second"])
def test_a_price_change_shows_on_the_next_request(partner_client, products, settings, page):
    url = f"{LIST_URL}?limit=2" if page == "first" else second_page_url(partner_client)
    before = partner_client.get(url).content
    on_page = [item["asin"] for item in json.loads(before)["results"]]

    # A raw UPDATE: no save(), updated_at unchanged.
    Product.objects.filter(asin=on_page[-1]).update(source_price_usd=Decimal("25.00"))

    assert b'"source_price_usd":"25.00"' in _assert_fresh(partner_client, url, before, settings)


def test_domestic_stock_shows_on_the_next_request(partner_client, products, settings):
    url = f"{LIST_URL}?limit=2"
    before = partner_client.get(url).content

    StockFactory(product=products[0], on_hand=1)
    after = _assert_fresh(partner_client, url, before, settings)
    assert json.loads(after)["results"][0]["availability"]["in_stock_domestic"] is True


def test_a_deactivated_product_leaves_the_page_and_a_reactivated_one_returns(
    partner_client, products, settings
):
    url = second_page_url(partner_client)  # products 2 and 3
    before = partner_client.get(url).content

    Product.objects.filter(pk=products[2].pk).update(is_active=False)
    after = _assert_fresh(partner_client, url, before, settings)
    assert [i["asin"] for i in json.loads(after)["results"]] == [products[3].asin, products[4].asin]

    Product.objects.filter(pk=products[2].pk).update(is_active=True)
    assert _assert_fresh(partner_client, url, after, settings) == before


def test_the_product_after_the_page_decides_next(partner_client, products, settings):
    url = f"{LIST_URL}?limit=5"
    before = partner_client.get(url).content
    assert json.loads(before)["next"] is not None

    Product.objects.filter(pk=products[5].pk).update(is_active=False)  # the only one after
    assert json.loads(_assert_fresh(partner_client, url, before, settings))["next"] is None


def test_a_new_product_appears_on_the_last_page(partner_client, products, settings):
    url = f"{LIST_URL}?limit=50"
    before = partner_client.get(url).content

    added = ProductFactory()
    after = _assert_fresh(partner_client, url, before, settings)
    assert json.loads(after)["results"][-1]["asin"] == added.asin


def test_an_edit_through_the_orm_shows_on_the_next_request(partner_client, products, settings):
    url = f"{LIST_URL}?limit=2"
    before = partner_client.get(url).content

    products[0].title = "Renamed Puzzle"
    products[0].save()

    assert b"Renamed Puzzle" in _assert_fresh(partner_client, url, before, settings)


def test_a_reverse_page_follows_deactivation(partner_client, products, settings):
    second = partner_client.get(second_page_url(partner_client)).json()
    url = second["previous"]
    before = partner_client.get(url).content

    Product.objects.filter(pk=products[0].pk).update(is_active=False)
    _assert_fresh(partner_client, url, before, settings)


def test_a_new_selling_rate_shows_on_the_next_request(partner_client, products, settings):
    url = f"{LIST_URL}?limit=2"
    before = partner_client.get(url).content

    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1500"))
    # The rate's cache entry expires (or the FX refresh clears it); no version bump.
    cache.delete(FX_CACHE_KEY.format(kind=ExchangeRate.Kind.SELLING))

    _assert_fresh(partner_client, url, before, settings)


def test_a_new_price_margin_shows_on_the_next_request(partner_client, products, settings):
    url = f"{LIST_URL}?limit=2"
    before = partner_client.get(url).content

    settings.PRICE_MARGIN = Decimal("0.20")

    _assert_fresh(partner_client, url, before, settings)


def test_an_import_invalidates_content_the_range_check_cannot_see(
    partner_client, products, settings, monkeypatch
):
    url = f"{LIST_URL}?limit=2"
    before = partner_client.get(url).content
    # A category renamed by a raw UPDATE (as a bulk import writes): invisible to the
    # range check, so the page is still served from the cache...
    products[0].category.__class__.objects.filter(pk=products[0].category_id).update(name="Toys")
    with page_not_built(monkeypatch):
        assert partner_client.get(url).content == before

    page_cache.pages_invalidate()  # the end of every import

    assert b'"name":"Toys"' in _assert_fresh(partner_client, url, before, settings)


def test_the_next_day_moves_the_delivery_dates(partner_client, products, settings, monkeypatch):
    url = f"{LIST_URL}?limit=2"
    today = timezone.now()
    before = partner_client.get(url).content

    monkeypatch.setattr(timezone, "now", lambda: today + datetime.timedelta(days=1))

    _assert_fresh(partner_client, url, before, settings)


# --- Never cached ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "limit=2&min_price_krw=abc",
        "limit=2&cursor=cD0xeA%3D%3D",
        "cursor=cD1hYmM%3D",
        "limit=2&updated_since=yesterday",
        "category=no-such-slug",
    ],
)
def test_invalid_parameters_are_400_and_never_cached(partner_client, products, stores, query):
    for _ in range(2):
        response = partner_client.get(f"{LIST_URL}?{query}")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
    assert stores == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=2&category=toys",
        "limit=2&q=puzzle",
        "limit=2&in_stock_domestic=true",
        "limit=2&min_price_krw=1000",
        "limit=2&updated_since=2000-01-01T00:00:00Z",
        "limit=2&made_up=1",
        "limit=02",
        "limit=abc",
        "limit=1000",
        "limit=2&limit=3",
    ],
)
def test_filtered_or_unusual_requests_are_built_not_cached(partner_client, products, stores, query):
    assert partner_client.get(f"{LIST_URL}?{query}").status_code == 200
    assert stores == []


def test_a_cursor_with_an_offset_is_built_not_cached(partner_client, products, stores):
    # DRF issues offsets only for non-unique orderings; one made by hand still works.
    cursor = list_cache._canonical_cursor(1, False, str(products[0].pk))
    assert partner_client.get(LIST_URL, {"limit": 2, "cursor": cursor}).status_code == 200
    assert stores == []


def test_the_cache_is_off_with_catalog_page_cache_seconds_0(
    partner_client, products, stores, settings
):
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    partner_client.get(f"{LIST_URL}?limit=2")
    assert stores == []


def test_unfiltered_pages_are_stored_once(partner_client, products, stores):
    url = f"{LIST_URL}?limit=2"
    partner_client.get(url)
    partner_client.get(url)
    assert len(stores) == 1
    Product.objects.update(source_price_usd=F("source_price_usd") + 1)
    partner_client.get(url)
    assert len(stores) == 2
