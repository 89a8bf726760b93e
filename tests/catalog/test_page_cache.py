"""The anonymous page cache of the home, category and product pages (catalog.cache).

Each test fills the cache with a first anonymous request, changes something, and reads the
page again: a price change, an FX change, a stock change and a content change show on
that very next request. Prices: rate 1400, margin 10%: USD 20.00 → 30,800 won,
USD 30.00 → 46,200 won; at rate 1500: USD 20.00 → 33,000 won."""

from __future__ import annotations

import re
from collections import OrderedDict
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F
from django.test import Client
from django.urls import reverse

from catalog import cache as page_cache
from catalog.models import ExchangeRate, Product
from catalog.selectors import category_cache_clear, fx_cache_clear
from fulfillment.models import Stock
from tests.factories import (
    CategoryFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    settings.CATALOG_PAGE_CACHE_SECONDS = 300
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture
def item():
    category = CategoryFactory(name="Puzzles", slug="puzzles")
    product = ProductFactory(
        asin="B0CACHE001",
        title="Cached Jigsaw Puzzle",
        category=category,
        source_price_usd=Decimal("20.00"),
        list_price_usd=None,
    )
    StockFactory(product=product, warehouse=WarehouseFactory(), on_hand=3)
    return product


def pages(product: Product) -> dict[str, str]:
    return {
        "home": reverse("home"),
        "category": product.category.get_absolute_url(),
        "product": reverse("catalog:product", kwargs={"asin": product.asin}),
    }


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_second_anonymous_request_is_served_from_the_cache(page, item, django_assert_num_queries):
    url = pages(item)[page]
    first = text(Client().get(url))
    # A hit costs the one freshness query (price and stock of the products shown), no
    # rendering queries.
    with django_assert_num_queries(1):
        second = text(Client().get(url))
    assert "Cached Jigsaw Puzzle" in second
    assert TOKEN.sub("", first) == TOKEN.sub("", second)


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_price_change_shows_on_the_next_request(page, item):
    url = pages(item)[page]
    assert "30,800" in text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(source_price_usd=Decimal("30.00"))
    again = text(Client().get(url))
    assert "46,200" in again
    assert "30,800" not in again


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_an_fx_change_shows_on_the_next_request(page, item):
    url = pages(item)[page]
    assert "30,800" in text(Client().get(url))
    # What catalog.services.fx does: store the new rate, clear the FX cache on commit.
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1500"))
    fx_cache_clear()
    again = text(Client().get(url))
    assert "33,000" in again
    assert "30,800" not in again


def test_an_fx_rate_in_the_key_even_without_the_version_bump(item):
    """The rates are part of the key: a new rate shows as soon as the FX cache (1 minute)
    gives it, even if nothing bumped the page version."""
    from django.core.cache import cache

    from catalog.selectors import FX_CACHE_KEY

    url = pages(item)["product"]
    assert "30,800" in text(Client().get(url))
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1500"))
    cache.delete(FX_CACHE_KEY.format(kind=ExchangeRate.Kind.SELLING))  # the minute is over
    assert "33,000" in text(Client().get(url))


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_stock_change_shows_on_the_next_request(page, item):
    """Reserving the last domestic units (as the reservation service does, with an
    ``UPDATE``, no signal) turns the fast-delivery promise off on the next request."""
    url = pages(item)[page]
    assert "badge-fast" in text(Client().get(url))
    Stock.objects.filter(product=item).update(reserved=F("on_hand"))
    assert "badge-fast" not in text(Client().get(url))


def test_stock_coming_back_shows_on_the_next_request(item):
    Stock.objects.filter(product=item).update(reserved=F("on_hand"))
    url = pages(item)["product"]
    assert "delivery-fast" not in text(Client().get(url))
    Stock.objects.filter(product=item).update(reserved=0)
    assert "delivery-fast" in text(Client().get(url))


def test_a_deactivated_product_is_not_served_from_the_cache(item):
    url = pages(item)["product"]
    text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(is_active=False)
    assert Client().get(url).status_code == 404


def test_a_content_change_shows_after_the_import_clears_the_cache(item):
    """The importer calls ``category_cache_clear`` at the end: titles change then."""
    url = pages(item)["category"]
    assert "Cached Jigsaw Puzzle" in text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(title="Renamed Puzzle")
    category_cache_clear()
    again = text(Client().get(url))
    assert "Renamed Puzzle" in again
    assert "Cached Jigsaw Puzzle" not in again


def test_each_visitor_gets_a_valid_csrf_token_of_their_own(item):
    url = pages(item)["product"]
    one, two = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    text(one.get(url))  # fills the cache
    page_two = text(two.get(url))  # from the cache
    token = TOKEN.search(page_two).group(1)
    assert "Placeholder" not in page_two
    assert token != TOKEN.search(text(one.get(url))).group(1)
    # The token from the cached page is accepted with the visitor's own cookie.
    response = two.post(
        reverse("set_language"), {"language": "en", "next": url, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_the_language_is_part_of_the_key(item):
    url = pages(item)["product"]
    korean = text(Client().get(url, HTTP_ACCEPT_LANGUAGE="ko"))
    english = Client()
    english.cookies["django_language"] = "en"
    assert text(english.get(url)) != korean
    assert 'lang="en"' in text(english.get(url))


def test_a_signed_in_shopper_never_gets_or_fills_the_shared_page(
    item, django_assert_max_num_queries
):
    url = pages(item)["product"]
    user = get_user_model().objects.create_user(
        username="cache", email="cache@example.com", password="x-pass-123"
    )
    client = Client()
    client.force_login(user)
    signed_in = text(client.get(url))
    assert f'href="{reverse("accounts:profile")}"' in signed_in
    # The signed-in page did not fill the cache: the next anonymous request renders.
    anonymous = Client().get(url)
    assert anonymous.context is not None  # rendered, not a cache hit
    assert f'href="{reverse("accounts:profile")}"' not in text(anonymous)
    # And with the anonymous page cached, the shopper still gets their own page.
    assert f'href="{reverse("accounts:profile")}"' in text(client.get(url))


def test_the_fast_delivery_filter_is_never_cached(item):
    url = pages(item)["category"] + "?fast=on"
    assert "Cached Jigsaw Puzzle" in text(Client().get(url))
    Stock.objects.filter(product=item).update(reserved=F("on_hand"))
    assert "Cached Jigsaw Puzzle" not in text(Client().get(url))


# --- Product cards (cached per card, used by every list, search included) ---------------


def test_cards_from_the_cache_are_the_same_html(item):
    """Search pages are never cached whole, but their cards are: the second search
    renders no card, and its HTML is the same (nothing escaped twice)."""
    url = reverse("catalog:search") + "?q=jigsaw"
    first = text(Client().get(url))
    second_response = Client().get(url)
    second = text(second_response)
    card_templates = [t.name for t in second_response.templates]
    assert "catalog/includes/product_card.html" not in card_templates
    assert TOKEN.sub("", first) == TOKEN.sub("", second)
    assert '<article class="card">' in second


def test_a_card_shows_a_new_price_stock_and_title_at_once(item):
    url = reverse("catalog:search") + "?q=jigsaw"
    assert "30,800" in text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(source_price_usd=Decimal("30.00"))
    assert "46,200" in text(Client().get(url))
    Stock.objects.filter(product=item).update(reserved=F("on_hand"))
    assert "badge-fast" not in text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(title="Renamed Jigsaw")
    assert "Renamed Jigsaw" in text(Client().get(url))


def test_unknown_query_parameters_are_rendered_not_cached(item, django_assert_num_queries):
    """A made-up parameter gets a rendered page and leaves nothing in the cache: the
    same URL asked again renders again (more than the one freshness query)."""
    url = pages(item)["product"] + "?utm_source=x"
    assert "Cached Jigsaw Puzzle" in text(Client().get(url))
    again = Client().get(url)
    assert again.context is not None  # rendered
    category = pages(item)["category"] + "?sort=price_asc"
    text(Client().get(category))
    with django_assert_num_queries(1):  # a known parameter is cached
        text(Client().get(category))


def test_the_content_version_can_be_bumped_again_and_again(item):
    """The first bump creates the version, later ones increment it (on Redis only
    integers increment), and every bump makes the cached page stale."""
    url = pages(item)["category"]
    for n in range(3):
        Product.objects.filter(pk=item.pk).update(title=f"Puzzle edition {n}")
        category_cache_clear()
        assert f"Puzzle edition {n}" in text(Client().get(url))


# --- The recheck window: a process re-serves a page it checked without checking again ---


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 1.0
    fake = FakeClock()
    monkeypatch.setattr(page_cache, "_clock", fake)
    monkeypatch.setattr(page_cache, "_recent_checked", float("-inf"))
    return fake


@pytest.fixture
def cache_reads(monkeypatch):
    """The keys each ``cache.get_many`` asked for."""
    from django.core.cache import cache

    asked: list[list[str]] = []
    real = cache.get_many

    def spy(keys, *args, **kwargs):
        asked.append(list(keys))
        return real(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get_many", spy)
    return asked


def page_keys_read(asked: list[list[str]]) -> list[str]:
    prefix = page_cache.PAGE_KEY.format(digest="")
    return [key for keys in asked for key in keys if key.startswith(prefix)]


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_within_the_window_a_page_is_served_without_redis_or_sql(
    page, item, clock, django_assert_num_queries, cache_reads
):
    url = pages(item)[page]
    first = text(Client().get(url))
    clock.now += 0.5
    cache_reads.clear()
    with django_assert_num_queries(0):
        second = text(Client().get(url))
    assert cache_reads == []
    assert TOKEN.sub("", first) == TOKEN.sub("", second)
    assert TOKEN.search(second)[1] != TOKEN.search(first)[1]  # each visitor's own token


def test_after_the_window_one_query_checks_every_page_held(
    item, clock, django_assert_num_queries, cache_reads
):
    """Three pages held: once the window is over, the first request checks all three
    (one query, one small ``get_many`` for rates and version, no page fetched), and the
    other two are then served for a new window without any check."""
    urls = list(pages(item).values())
    first = {url: text(Client().get(url)) for url in urls}
    clock.now += 1.5
    cache_reads.clear()
    with django_assert_num_queries(1):
        again = {url: text(Client().get(url)) for url in urls}
    assert page_keys_read(cache_reads) == []
    assert len(cache_reads) == 1
    assert {u: TOKEN.sub("", h) for u, h in first.items()} == {
        u: TOKEN.sub("", h) for u, h in again.items()
    }


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_a_price_change_shows_once_the_window_is_over(page, item, clock):
    url = pages(item)[page]
    assert "30,800" in text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(source_price_usd=Decimal("30.00"))
    clock.now += 0.5
    assert "30,800" in text(Client().get(url))  # still inside the 1 s window
    clock.now += 0.5
    again = text(Client().get(url))
    assert "46,200" in again
    assert "30,800" not in again


def test_a_change_to_one_page_forgets_only_that_page(item, clock, cache_reads):
    """The product of one page changes: that page is forgotten and built again; the
    pages whose products did not change stay held."""
    other = ProductFactory(
        asin="B0CACHE002", category=CategoryFactory(slug="mugs"), source_price_usd=Decimal("9")
    )
    url, other_url = pages(item)["product"], pages(other)["product"]
    text(Client().get(url))
    text(Client().get(other_url))
    Product.objects.filter(pk=item.pk).update(source_price_usd=Decimal("30.00"))
    clock.now += 1.0
    cache_reads.clear()
    assert "46,200" in text(Client().get(url))
    assert len(page_keys_read(cache_reads)) == 1  # the changed page only
    cache_reads.clear()
    text(Client().get(other_url))
    assert cache_reads == []  # still held, re-checked with the first request


def test_a_stock_change_shows_once_the_window_is_over(item, clock):
    url = pages(item)["product"]
    assert "delivery-fast" in text(Client().get(url))
    Stock.objects.filter(product=item).update(reserved=F("on_hand"))
    clock.now += 1.0
    assert "delivery-fast" not in text(Client().get(url))


def test_a_product_deactivated_shows_once_the_window_is_over(item, clock):
    url = pages(item)["product"]
    text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(is_active=False)
    clock.now += 1.0
    assert Client().get(url).status_code == 404


def test_an_invalidation_in_this_process_shows_at_once(item, clock):
    url = pages(item)["product"]
    assert "30,800" in text(Client().get(url))
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1500"))
    fx_cache_clear()  # the FX refresh's on_commit: forgets this process's pages too
    assert "33,000" in text(Client().get(url))


def test_an_invalidation_in_another_process_shows_once_the_window_is_over(item, clock):
    """Another process's ``category_cache_clear`` bumps the version in the cache but
    cannot clear this process's memory: the check after the window sees the version."""
    from django.core.cache import cache

    url = pages(item)["category"]
    text(Client().get(url))
    Product.objects.filter(pk=item.pk).update(title="Renamed Jigsaw Puzzle")
    # What pages_invalidate does in the other process; this process's memory stays.
    cache.set(page_cache.VERSION_KEY, cache.get(page_cache.VERSION_KEY, 0) + 1, None)
    clock.now += 0.5
    assert "Renamed Jigsaw Puzzle" not in text(Client().get(url))
    clock.now += 0.5
    assert "Renamed Jigsaw Puzzle" in text(Client().get(url))


def test_a_new_customs_rate_elsewhere_shows_on_the_product_page_after_the_window(item, clock):
    """The customs rate is part of a product page's conditions (import fees), not of a
    category page's: the check compares each page with its own."""
    from django.core.cache import cache

    from catalog.selectors import FX_CACHE_KEY

    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1390"))
    urls = pages(item)
    text(Client().get(urls["product"]))
    text(Client().get(urls["category"]))
    clock.now += 1.0
    text(Client().get(urls["category"]))  # the check: nothing changed, both kept
    assert len(page_cache._recent) == 2
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1500"))
    cache.delete(FX_CACHE_KEY.format(kind=ExchangeRate.Kind.CUSTOMS))  # its minute is over
    clock.now += 1.0
    text(Client().get(urls["category"]))  # runs the check
    held = page_cache._recent
    assert len(held) == 1
    [(_key, copy)] = held.items()
    assert copy.conditions[1] == ""  # the category page, kept


def test_a_zero_window_checks_every_request(item, settings, django_assert_num_queries):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0
    url = pages(item)["home"]
    text(Client().get(url))
    with django_assert_num_queries(1):  # the freshness query, every time
        text(Client().get(url))
    assert page_cache._recent == OrderedDict()


def test_the_memory_is_bounded(item, clock, settings):
    urls = list(pages(item).values())
    for url in urls:
        text(Client().get(url))
    assert len(page_cache._recent) == 3
    sizes = sorted(len(copy.html) for copy in page_cache._recent.values())
    # Room for the two smallest pages only: the least recently served go first.
    settings.CATALOG_PAGE_MEMORY_MB = (sizes[0] + sizes[1]) / (1024 * 1024)
    page_cache.recent_clear()
    for url in urls:
        text(Client().get(url))
    assert page_cache._recent_size <= sizes[0] + sizes[1]
    assert 1 <= len(page_cache._recent) < 3
    assert page_cache._recent_size == sum(len(c.html) for c in page_cache._recent.values())


def test_a_recheck_reads_at_most_so_many_products_most_recently_served_first(
    item, clock, monkeypatch, cache_reads, django_assert_num_queries
):
    """A memory full of list pages would make one re-check read tens of thousands of
    products: it stops at ``RECHECK_MAX_PRODUCTS``, most recently served pages first; a
    page left out is checked on its own when asked for again."""
    monkeypatch.setattr(page_cache, "RECHECK_MAX_PRODUCTS", 1)
    other = ProductFactory(
        asin="B0CACHE003", category=item.category, source_price_usd=Decimal("9.00")
    )
    url, other_url = pages(item)["product"], pages(other)["product"]
    text(Client().get(url))
    text(Client().get(other_url))
    clock.now += 1.0
    cache_reads.clear()
    with django_assert_num_queries(1) as recheck:
        text(Client().get(other_url))  # the re-check, of this page only
    assert page_keys_read(cache_reads) == []
    [in_list] = re.findall(r"IN \(([^)]*)\)", recheck.captured_queries[0]["sql"])
    assert [int(pk) for pk in in_list.split(",")] == [other.pk]
    with django_assert_num_queries(1):  # left out of it: its own check, page fetched
        assert "30,800" in text(Client().get(url))
    assert len(page_keys_read(cache_reads)) == 1
