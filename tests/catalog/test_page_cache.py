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
    # Both clocks move together: this process's window and the check records' ages.
    monkeypatch.setattr(page_cache, "_clock", fake)
    monkeypatch.setattr(page_cache, "_wall_clock", fake)
    return fake


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_within_the_window_a_page_is_served_without_redis_or_sql(
    page, item, clock, django_assert_num_queries, monkeypatch
):
    url = pages(item)[page]
    first = text(Client().get(url))
    clock.now += 0.5

    def no_cache_lookup(*args, **kwargs):
        raise AssertionError("the shared cache was asked within the window")

    monkeypatch.setattr(page_cache, "_lookup", no_cache_lookup)
    with django_assert_num_queries(0):
        second = text(Client().get(url))
    assert TOKEN.sub("", first) == TOKEN.sub("", second)
    assert TOKEN.search(second)[1] != TOKEN.search(first)[1]  # each visitor's own token


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


def test_a_stock_change_shows_once_the_window_is_over(item, clock):
    url = pages(item)["product"]
    assert "delivery-fast" in text(Client().get(url))
    Stock.objects.filter(product=item).update(reserved=F("on_hand"))
    clock.now += 1.0
    assert "delivery-fast" not in text(Client().get(url))


def test_an_invalidation_in_this_process_shows_at_once(item, clock):
    url = pages(item)["product"]
    assert "30,800" in text(Client().get(url))
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1500"))
    fx_cache_clear()  # the FX refresh's on_commit: forgets this process's pages too
    assert "33,000" in text(Client().get(url))


def test_a_zero_window_checks_every_request(item, settings, django_assert_num_queries):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0
    url = pages(item)["home"]
    text(Client().get(url))
    with django_assert_num_queries(1):  # the freshness query, every time
        text(Client().get(url))


def test_the_window_keeps_a_bounded_number_of_pages(item, clock, monkeypatch):
    monkeypatch.setattr(page_cache, "RECENT_PAGES", 2)
    for url in pages(item).values():
        text(Client().get(url))
    assert len(page_cache._recent) == 2


# --- Check records: a page checked by one process is not checked again by the others ---


class Processes:
    """Stands for several web processes sharing one cache: each has its own memory of
    recently served pages (``catalog.cache._recent``)."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.memories: dict[str, OrderedDict] = {}

    def use(self, name: str) -> None:
        memory = self.memories.setdefault(name, OrderedDict())
        self.monkeypatch.setattr(page_cache, "_recent", memory)


@pytest.fixture
def processes(monkeypatch, clock):
    return Processes(monkeypatch)


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


@pytest.fixture
def cache_writes(monkeypatch):
    """The keys each ``cache.set`` wrote."""
    from django.core.cache import cache

    written: list[str] = []
    real = cache.set

    def spy(key, *args, **kwargs):
        written.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(cache, "set", spy)
    return written


def page_keys_read(asked: list[list[str]]) -> list[str]:
    prefix = page_cache.PAGE_KEY.format(digest="")
    records = page_cache.CHECKED_KEY.format(digest="")
    return [
        key
        for keys in asked
        for key in keys
        if key.startswith(prefix) and not key.startswith(records)
    ]


@pytest.mark.parametrize("page", ["home", "category", "product"])
def test_another_process_check_lets_a_copy_be_served_without_the_page_or_sql(
    page, item, clock, processes, cache_reads, django_assert_num_queries
):
    url = pages(item)[page]
    processes.use("a")
    first = text(Client().get(url))
    processes.use("b")
    text(Client().get(url))  # b serves the page too (from the cache)
    clock.now += 1.5  # both windows are over
    text(Client().get(url))  # b checks its page (SQL) and leaves a record
    clock.now += 0.4
    processes.use("a")
    cache_reads.clear()
    with django_assert_num_queries(0):
        second = text(Client().get(url))
    assert TOKEN.sub("", first) == TOKEN.sub("", second)
    assert cache_reads, "a read the check record"
    assert page_keys_read(cache_reads) == []  # not the page itself
    # b's check was 0.4 s ago: a serves its copy for the rest of that window, unasked.
    clock.now += 0.5
    cache_reads.clear()
    with django_assert_num_queries(0):
        text(Client().get(url))
    assert cache_reads == []


def test_a_check_record_older_than_the_window_is_not_trusted(
    item, clock, processes, django_assert_num_queries
):
    url = pages(item)["product"]
    for name in ("a", "b"):
        processes.use(name)
        assert "30,800" in text(Client().get(url))
    clock.now += 1.5
    text(Client().get(url))  # b checks at t = 1.5
    Product.objects.filter(pk=item.pk).update(source_price_usd=Decimal("30.00"))
    clock.now += 1.0  # b's check is 1 s old now: a must check for itself
    processes.use("a")
    with django_assert_num_queries(3):  # the freshness query finds the change: renders
        again = text(Client().get(url))
    assert "46,200" in again
    assert "30,800" not in again


def test_a_price_change_after_another_process_check_shows_once_its_window_is_over(
    item, clock, processes
):
    url = pages(item)["category"]
    for name in ("a", "b"):
        processes.use(name)
        text(Client().get(url))
    clock.now += 1.5
    text(Client().get(url))  # b checks at t = 1.5: right then
    Product.objects.filter(pk=item.pk).update(source_price_usd=Decimal("30.00"))
    clock.now += 0.5
    processes.use("a")
    assert "30,800" in text(Client().get(url))  # inside b's window: the promise is 1 s
    clock.now += 0.5
    again = text(Client().get(url))
    assert "46,200" in again
    assert "30,800" not in again


def test_an_invalidation_elsewhere_voids_the_records_at_once(item, clock, processes):
    """A content change (the importer's ``category_cache_clear`` in some other process)
    bumps the version; a record made under the old version vouches for nothing, so the
    next record read renders the new content instead of waiting out the window."""
    url = pages(item)["category"]
    for name in ("a", "b"):
        processes.use(name)
        text(Client().get(url))
    clock.now += 1.5
    text(Client().get(url))  # b's record at t = 1.5, old version
    Product.objects.filter(pk=item.pk).update(title="Renamed Jigsaw Puzzle")
    processes.use("importer")
    category_cache_clear()
    clock.now += 0.1
    processes.use("a")  # a's own window ended long ago: it reads b's record
    assert "Renamed Jigsaw Puzzle" in text(Client().get(url))


def test_a_record_of_another_rendering_is_not_used_for_this_copy(
    item, clock, processes, cache_reads
):
    """b rendered the page anew (say after its entry expired): a's copy is another
    rendering, so a reads the page instead of trusting the record with its own copy."""
    from django.core.cache import cache

    url = pages(item)["product"]
    processes.use("b")
    text(Client().get(url))
    processes.use("a")
    text(Client().get(url))
    clock.now += 1.5
    cache.delete_many(list(page_cache._recent))  # the entry expires
    processes.use("b")
    text(Client().get(url))  # b renders: a new entry, a new token, a record naming it
    processes.use("a")
    (old_token,) = {token for _, token, _ in page_cache._recent.values()}
    cache_reads.clear()
    text(Client().get(url))
    assert len(page_keys_read(cache_reads)) == 1  # a fetched the page
    (new_token,) = {token for _, token, _ in page_cache._recent.values()}
    assert new_token != old_token


def test_no_window_means_no_check_records(item, settings, cache_reads, cache_writes):
    settings.CATALOG_PAGE_RECHECK_SECONDS = 0
    written = cache_writes
    url = pages(item)["product"]
    text(Client().get(url))
    text(Client().get(url))
    records = page_cache.CHECKED_KEY.format(digest="")
    assert [k for k in written if k.startswith(page_cache.PAGE_KEY.format(digest=""))]
    assert not [k for k in written if k.startswith(records)]
    assert not [k for keys in cache_reads for k in keys if k.startswith(records)]
    assert page_cache._recent == OrderedDict()


def test_a_page_served_once_in_a_while_leaves_no_check_record(item, clock, processes, cache_writes):
    """One of thousands of product pages, asked for now and then: the process checking
    it had no copy of it, so it writes no record (nobody else would read it)."""
    written = cache_writes
    records = page_cache.CHECKED_KEY.format(digest="")
    url = pages(item)["product"]
    processes.use("a")
    text(Client().get(url))  # renders
    processes.use("b")
    text(Client().get(url))  # checks, had no copy
    assert not [k for k in written if k.startswith(records)]
    clock.now += 1.5
    text(Client().get(url))  # checks again, with its copy: now it shares the check
    assert len([k for k in written if k.startswith(records)]) == 1
