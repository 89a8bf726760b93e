"""Shopper pages of the catalog: category, search and product pages (any database).

Prices are asserted as the shopper reads them. With the selling rate 1400 and a 10%
margin, USD 19.99 → ceil(19.99 × 1540 / 10) × 10 = ₩30,790 and USD 20.00 → ₩30,800."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import factory
import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog.models import ExchangeRate, Product
from tests.factories import (
    CategoryFactory,
    CustomsClassFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("catalog:search")


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))


@pytest.fixture
def tree():
    """Toys & Games > Puzzles > Jigsaw, and an unrelated Books root."""
    toys = CategoryFactory(name="Toys & Games", slug="toys")
    puzzles = CategoryFactory(name="Puzzles", slug="puzzles", parent=toys)
    jigsaw = CategoryFactory(name="Jigsaw Puzzles", slug="jigsaw", parent=puzzles)
    books = CategoryFactory(name="Books", slug="books")
    return {"toys": toys, "puzzles": puzzles, "jigsaw": jigsaw, "books": books}


def asins(response) -> list[str]:
    return [product.asin for product in response.context["page_obj"]]


def field_errors(response, name: str) -> list[str]:
    return list(response.context["form"].errors.get(name, []))


# --- Category page ---------------------------------------------------------------------------


def test_category_page_lists_products_of_the_category_and_its_descendants(client, tree):
    in_toys = ProductFactory(category=tree["toys"])
    in_puzzles = ProductFactory(category=tree["puzzles"])
    in_jigsaw = ProductFactory(category=tree["jigsaw"])
    ProductFactory(category=tree["books"])
    ProductFactory(category=tree["jigsaw"], is_active=False)

    response = client.get(tree["puzzles"].get_absolute_url())

    assert response.status_code == 200
    assert sorted(asins(response)) == sorted([in_puzzles.asin, in_jigsaw.asin])
    assert in_toys.asin not in asins(response)
    html = response.content.decode()
    # Breadcrumbs from the ancestors, the child categories as links.
    assert f'<a href="{tree["toys"].get_absolute_url()}">Toys &amp; Games</a>' in html
    assert '<span aria-current="page">Puzzles</span>' in html
    assert f'href="{tree["jigsaw"].get_absolute_url()}"' in html
    assert html.count("<h1") == 1


def test_child_category_links_keep_the_filters_but_not_the_page(client, tree):
    ProductFactory(category=tree["puzzles"])
    response = client.get(tree["puzzles"].get_absolute_url(), {"fast": "on", "page": "1"})
    assert f'href="{tree["jigsaw"].get_absolute_url()}?fast=on"' in response.content.decode()


def test_unknown_category_is_the_site_404_page(client):
    response = client.get(reverse("catalog:category", kwargs={"slug": "no-such-thing"}))
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]


def test_unicode_category_slug_resolves(client):
    category = CategoryFactory(name="장난감", slug="장난감")
    product = ProductFactory(category=category)
    response = client.get(category.get_absolute_url())
    assert response.status_code == 200
    assert asins(response) == [product.asin]


# --- Filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"min_price": "30790"}, {"cheap", "dear"}),
        ({"min_price": "30791"}, {"dear"}),
        ({"max_price": "30790"}, {"cheap"}),
        ({"max_price": "30789"}, set()),
        ({"min_price": "30790", "max_price": "30800"}, {"cheap", "dear"}),
        ({"min_price": "30791", "max_price": "30799"}, set()),
        ({"min_price": "₩30,800", "max_price": "30,800원"}, {"dear"}),
    ],
)
def test_price_range_in_won_is_exact_at_the_boundaries(client, tree, params, expected):
    cheap = ProductFactory(source_price_usd=Decimal("19.99"), category=tree["toys"])
    dear = ProductFactory(source_price_usd=Decimal("20.00"), category=tree["toys"])
    names = {cheap.asin: "cheap", dear.asin: "dear"}

    for url in (tree["toys"].get_absolute_url(), SEARCH_URL):
        response = client.get(url, params)
        assert response.status_code == 200
        assert {names[asin] for asin in asins(response)} == expected, url
        assert not response.context["form"].errors


def test_shelf_prices_shown_are_the_ones_filtered_on(client, tree):
    ProductFactory(source_price_usd=Decimal("19.99"), category=tree["toys"])
    response = client.get(tree["toys"].get_absolute_url(), {"max_price": "30790"})
    assert "₩30,790" in response.content.decode()


def test_fast_delivery_keeps_only_products_with_domestic_stock_available(client, tree):
    in_stock = ProductFactory(category=tree["toys"])
    StockFactory(product=in_stock, on_hand=3, allocated=1)
    all_allocated = ProductFactory(category=tree["toys"])
    StockFactory(product=all_allocated, on_hand=2, allocated=2)
    abroad_only = ProductFactory(category=tree["toys"])
    StockFactory(
        product=abroad_only,
        warehouse=WarehouseFactory(code="us-nj", is_domestic=False),
        on_hand=9,
    )
    inactive_warehouse = ProductFactory(category=tree["toys"])
    StockFactory(
        product=inactive_warehouse, warehouse=WarehouseFactory(code="old", is_active=False)
    )
    ProductFactory(category=tree["toys"])

    response = client.get(tree["toys"].get_absolute_url(), {"fast": "on"})

    assert asins(response) == [in_stock.asin]
    assert response.content.decode().count('class="badge badge-fast"') == 1


def test_search_page_category_filter_includes_descendants(client, tree):
    deep = ProductFactory(title="Sunset puzzle", category=tree["jigsaw"])
    ProductFactory(title="Puzzle book", category=tree["books"])
    response = client.get(SEARCH_URL, {"q": "puzzle", "category": "toys"})
    assert asins(response) == [deep.asin]


def test_search_page_accepts_a_non_root_category_and_offers_it_in_the_menu(client, tree):
    deep = ProductFactory(category=tree["jigsaw"])
    ProductFactory(category=tree["toys"])
    response = client.get(SEARCH_URL, {"category": "jigsaw"})
    assert asins(response) == [deep.asin]
    assert '<option value="jigsaw" selected>Jigsaw Puzzles</option>' in response.content.decode()


def make_sorted_set(tree):
    """Alpha (oldest, USD 30, 3.0★, 50 reviews), Bravo (USD 10, unrated, 500 reviews),
    Charlie (newest, USD 20, 4.8★, 5 reviews)."""
    toys = tree["toys"]
    old = ProductFactory(
        title="Alpha",
        source_price_usd=Decimal("30"),
        rating=Decimal("3.0"),
        review_count=50,
        category=toys,
    )
    mid = ProductFactory(
        title="Bravo",
        source_price_usd=Decimal("10"),
        rating=None,
        review_count=500,
        category=toys,
    )
    new = ProductFactory(
        title="Charlie",
        source_price_usd=Decimal("20"),
        rating=Decimal("4.8"),
        review_count=5,
        category=toys,
    )
    for age, product in ((3, old), (2, mid), (1, new)):
        Product.objects.filter(pk=product.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=age)
        )
    return old, mid, new


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("price_asc", ["Bravo", "Charlie", "Alpha"]),
        ("price_desc", ["Alpha", "Charlie", "Bravo"]),
        ("newest", ["Charlie", "Bravo", "Alpha"]),
        ("rating", ["Charlie", "Alpha", "Bravo"]),  # unrated last
        ("relevance", ["Bravo", "Alpha", "Charlie"]),  # no query: most reviewed first
        ("", ["Bravo", "Alpha", "Charlie"]),
    ],
)
def test_sort_orders(client, tree, sort, order):
    make_sorted_set(tree)
    for url in (tree["toys"].get_absolute_url(), SEARCH_URL):
        response = client.get(url, {"sort": sort})
        assert [p.title for p in response.context["page_obj"]] == order, url


# --- Bad input: a message on the form, never a 500 -------------------------------------------


def test_letters_in_a_price_are_an_error_on_the_form_and_the_rest_still_applies(client, tree):
    cheap = ProductFactory(source_price_usd=Decimal("19.99"), category=tree["toys"])
    ProductFactory(source_price_usd=Decimal("20.00"), category=tree["toys"])

    response = client.get(SEARCH_URL, {"min_price": "abc", "max_price": "30790"})

    assert response.status_code == 200
    assert field_errors(response, "min_price") == ["가격은 원 단위 정수로 입력하세요. 예: 25000"]
    assert asins(response) == [cheap.asin]  # the valid maximum still applies
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_min_price_errors"' in html
    assert 'id="id_min_price_errors"' in html


def test_minimum_above_maximum_is_an_error_and_filters_nothing(client, tree):
    products = ProductFactory.create_batch(2, category=tree["toys"])
    response = client.get(
        SEARCH_URL, {"min_price": "50000", "max_price": "10000"}, HTTP_COOKIE="django_language=en"
    )
    assert response.status_code == 200
    message = "The minimum price must not be higher than the maximum price."
    assert field_errors(response, "min_price") == [message]
    assert field_errors(response, "max_price") == [message]
    assert sorted(asins(response)) == sorted(p.asin for p in products)


def test_negative_price_is_refused(client, tree):
    ProductFactory(category=tree["toys"])
    response = client.get(
        tree["toys"].get_absolute_url(), {"max_price": "-5"}, HTTP_COOKIE="django_language=en"
    )
    assert field_errors(response, "max_price") == ["The price cannot be negative."]
    assert len(asins(response)) == 1


def test_unknown_sort_is_an_error_and_the_default_order_is_used(client, tree):
    old, mid, new = make_sorted_set(tree)
    response = client.get(
        SEARCH_URL, {"sort": "cheapest; DROP TABLE"}, HTTP_COOKIE="django_language=en"
    )
    assert response.status_code == 200
    assert field_errors(response, "sort") == ["Unknown sort order: showing the default order."]
    assert asins(response) == [mid.asin, old.asin, new.asin]


def test_unknown_category_on_the_search_page_is_an_error_not_a_404(client, tree):
    ProductFactory(category=tree["books"])
    response = client.get(SEARCH_URL, {"category": "nope"}, HTTP_COOKIE="django_language=en")
    assert response.status_code == 200
    assert field_errors(response, "category") == [
        "There is no such category: showing all categories."
    ]
    assert len(asins(response)) == 1


@pytest.mark.parametrize("query", ["x" * 201, "bad\x00byte"])
def test_unusable_search_text_is_an_error_not_a_crash(client, query):
    ProductFactory()
    response = client.get(SEARCH_URL, {"q": query})
    assert response.status_code == 200
    assert field_errors(response, "q")


# --- Pagination ------------------------------------------------------------------------------


def test_pagination_keeps_the_filters_in_page_links(client, tree, settings):
    settings.CATALOG_PAGE_SIZE = 2
    products = [
        ProductFactory(category=tree["toys"], review_count=count) for count in (50, 40, 30, 20, 10)
    ]
    response = client.get(tree["toys"].get_absolute_url(), {"sort": "relevance", "fast": ""})
    page = response.context["page_obj"]
    assert (page.number, page.paginator.num_pages, page.paginator.count) == (1, 3, 5)
    html = response.content.decode()
    assert 'href="?sort=relevance&amp;fast=&amp;page=2" rel="next"' in html

    second = client.get(tree["toys"].get_absolute_url(), {"sort": "relevance", "page": "2"})
    assert asins(second) == [products[2].asin, products[3].asin]
    assert 'href="?sort=relevance&amp;page=1" rel="prev"' in second.content.decode()


@pytest.mark.parametrize(
    ("page", "shown", "notice"),
    [
        ("7", 3, "There is no page 7: showing the last page, 3."),
        ("0", 1, "That page number is not valid: showing page 1."),
        ("two", 1, "That page number is not valid: showing page 1."),
        ("99999999999999999999", 3, "There is no page 99999999999999999999"),
    ],
)
def test_page_out_of_range_shows_the_nearest_page_with_a_notice(
    client, settings, page, shown, notice
):
    settings.CATALOG_PAGE_SIZE = 2
    ProductFactory.create_batch(5)
    response = client.get(SEARCH_URL, {"page": page}, HTTP_COOKIE="django_language=en")
    assert response.status_code == 200
    assert response.context["page_obj"].number == shown
    assert notice in response.content.decode()


def test_no_results_says_so(client):
    ProductFactory(title="Garden hose")
    response = client.get(SEARCH_URL, {"q": "zeppelin"}, HTTP_COOKIE="django_language=en")
    assert asins(response) == []
    assert "No products match." in response.content.decode()


# --- Search (word containment on SQLite; full text on PostgreSQL) ------------------------------


def test_search_finds_words_in_title_or_brand(client):
    by_title = ProductFactory(title="Wooden Jigsaw Puzzle", brand="Ravensburger")
    by_brand = ProductFactory(title="Floor mat", brand="Puzzle Co")
    ProductFactory(title="Garden hose", brand="Acme")
    response = client.get(SEARCH_URL, {"q": "puzzle"})
    assert sorted(asins(response)) == sorted([by_title.asin, by_brand.asin])
    assert "puzzle" in response.content.decode()


# --- Product page ----------------------------------------------------------------------------


def arrival_dates(html: str) -> list[str]:
    return re.findall(r'<time datetime="(\d{4}-\d\d-\d\d)">', html)


def expected_dates(first: int, last: int, *, business: bool) -> set[tuple[str, str]]:
    """Expected (earliest, latest) for today and, around midnight, tomorrow (Seoul)."""

    def add(day: datetime.date, days: int) -> datetime.date:
        if not business:
            return day + datetime.timedelta(days=days)
        while days:
            day += datetime.timedelta(days=1)
            days -= day.weekday() < 5
        return day

    today = timezone.localdate()
    return {
        (add(day, first).isoformat(), add(day, last).isoformat())
        for day in (today, today + datetime.timedelta(days=1))
    }


def test_product_page_shows_everything_a_shopper_needs(client, tree):
    product = ProductFactory(
        asin="B0TESTPAGE",
        title="Wooden Jigsaw Puzzle, 500 pieces",
        brand="Ravensburger",
        source_price_usd=Decimal("19.99"),
        list_price_usd=Decimal("24.99"),
        bullet_points=["Made of birch wood", "Fits a 50 cm frame"],
        description="A calm evening.\n\nFor ages 8+.",
        image_urls=["https://m.media-amazon.com/a.jpg", "https://m.media-amazon.com/b.jpg"],
        rating=Decimal("4.6"),
        review_count=1234,
        category=tree["jigsaw"],
    )

    response = client.get(product.get_absolute_url(), HTTP_COOKIE="django_language=en")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1
    assert '<h1 id="product-title">Wooden Jigsaw Puzzle, 500 pieces</h1>' in html
    assert '<p class="brand">Ravensburger</p>' in html
    assert '<strong class="price">₩30,790</strong>' in html
    assert '<del class="list-price">₩38,490</del>' in html  # 24.99 × 1540 = 38,484.6
    assert "<li>Made of birch wood</li>" in html
    assert "<p>For ages 8+.</p>" in html
    assert 'src="https://m.media-amazon.com/a.jpg" alt="Wooden Jigsaw Puzzle, 500 pieces"' in html
    assert 'alt="Image 2 of 2"' in html
    assert "4.6 out of 5 (1,234 reviews)" in html
    # Breadcrumbs: the whole trail down to the product's category.
    for category in ("toys", "puzzles", "jigsaw"):
        assert f'href="{tree[category].get_absolute_url()}"' in html


def test_cross_border_product_promises_6_to_10_days_and_estimates_import_fees(client):
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1380"))
    product = ProductFactory(
        source_price_usd=Decimal("250.00"),
        weight_kg=Decimal("0.500"),
        weight_estimated=True,
        customs_class=CustomsClassFactory(code="other", duty_rate=Decimal("0.08")),
    )

    response = client.get(product.get_absolute_url(), HTTP_COOKIE="django_language=en")

    html = response.content.decode()
    assert "Ships from the US: arrives in 6–10 days" in html
    assert tuple(arrival_dates(html)) in expected_dates(6, 10, business=False)
    # One unit at the customs rate 1380: value 345,000 + freight 6,000 = 351,000;
    # duty 8% = 28,080; VAT 10% of 379,080 = 37,908; together 65,988.
    assert "About ₩65,988 for one unit (duty ₩28,080 + VAT ₩37,908)" in html
    assert "(USD 250.00) is over the USD 200.00 duty-free limit" in html
    assert "The shipping weight (about 0.5 kg) is estimated" in html
    assert "badge-fast" not in html


def test_cheap_cross_border_product_is_within_the_duty_free_limit(client):
    product = ProductFactory(
        source_price_usd=Decimal("19.99"),
        customs_class=CustomsClassFactory(code="supplements", list_clearance=False),
    )
    html = client.get(product.get_absolute_url(), HTTP_COOKIE="django_language=en").content.decode()
    assert "Estimated import fees" in html
    assert "(USD 19.99) is within the USD 150.00 duty-free limit" in html
    assert "is estimated" not in html


def test_over_the_limit_but_exempt_class_owes_nothing(client):
    product = ProductFactory(
        source_price_usd=Decimal("300"),
        customs_class=CustomsClassFactory(code="books", duty_rate=Decimal("0"), vat_applies=False),
    )
    html = client.get(product.get_absolute_url(), HTTP_COOKIE="django_language=en").content.decode()
    assert "but no duty or VAT applies to this kind of item" in html


def test_product_in_domestic_stock_promises_1_to_2_business_days_without_import_fees(client):
    product = ProductFactory(source_price_usd=Decimal("250.00"))
    StockFactory(product=product, on_hand=4, allocated=1)

    html = client.get(product.get_absolute_url(), HTTP_COOKIE="django_language=en").content.decode()

    assert "Ships from Korea: arrives in 1–2 business days" in html
    assert tuple(arrival_dates(html)) in expected_dates(1, 2, business=True)
    assert "Estimated import fees" not in html
    assert '<p class="badge badge-fast">Fast delivery</p>' in html


def test_product_without_images_shows_the_placeholder(client):
    product = ProductFactory(image_urls=[])
    html = client.get(product.get_absolute_url()).content.decode()
    assert re.search(
        r'<img class="gallery-main" src="/static/img/placeholder\.svg" alt="[^"]+"', html
    )


def test_image_urls_that_are_not_web_urls_are_never_rendered(client):
    product = ProductFactory(
        title="Odd feed row",
        image_urls=["javascript:alert(1)", "https://m.media-amazon.com/ok.jpg", "data:x"],
    )
    ProductFactory(title="Worse feed row", image_urls=["JavaScript:alert(2)"])
    for url in (product.get_absolute_url(), SEARCH_URL):
        html = client.get(url).content.decode()
        assert "javascript:" not in html.lower(), url
        assert "data:x" not in html, url
    html = client.get(product.get_absolute_url()).content.decode()
    assert 'id="gallery-main" src="https://m.media-amazon.com/ok.jpg"' in html
    assert "gallery-thumbs" not in html  # one usable image: no thumbnails


def test_lowercase_asin_finds_the_product(client):
    product = ProductFactory(asin="B0LOWERCAS")
    response = client.get(reverse("catalog:product", kwargs={"asin": "b0lowercas"}))
    assert response.status_code == 200
    assert response.context["product"] == product


@pytest.mark.parametrize("asin", ["B0NOTTHERE", "B0INACTIVE", "short"])
def test_unknown_or_inactive_asin_is_the_site_404_page(client, asin):
    ProductFactory(asin="B0INACTIVE", is_active=False)
    response = client.get(reverse("catalog:product", kwargs={"asin": asin}))
    assert response.status_code == 404
    assert response.templates[0].name == "404.html"
    html = response.content.decode()
    assert 'role="search"' in html
    assert 'href="/"' in html
    assert "<h1>페이지를 찾을 수 없습니다</h1>" in html


def test_prices_follow_the_current_selling_rate(client):
    product = ProductFactory(source_price_usd=Decimal("10.00"))
    # Published after the fixture's 1400, and a future rate is not in effect yet.
    ExchangeRateFactory(rate=Decimal("1500"))
    ExchangeRateFactory(
        rate=Decimal("1600"), effective_at=timezone.now() + datetime.timedelta(days=2)
    )
    html = client.get(product.get_absolute_url()).content.decode()
    assert '<strong class="price">₩16,500</strong>' in html  # 10 × 1500 × 1.1


# --- Query counts: they do not grow with the page size -----------------------------------------

# List pages: FX rate, header category menu, count, the page of products; filtering by a
# category adds the ids of its subtree; the category page also reads the category, its
# ancestors and its children; a text search on PostgreSQL adds "any full-text match?" (else
# the trigram fallback). Product page: the product (with its stock
# annotation), FX rate, breadcrumb trail, menu; + the customs rate when it ships from the US.
CATEGORY_PAGE_QUERIES = 8
SEARCH_PAGE_QUERIES = 4
# With a category filter; the count comes with the page (COUNT(*) OVER ()) and, on
# PostgreSQL, no probe decides on the typo fallback (tests/catalog/test_search_page.py).
SEARCH_WITH_TEXT_QUERIES = {"sqlite": 4, "postgresql": 4}
PRODUCT_PAGE_QUERIES = 4


def fill_catalog(count: int, category) -> None:
    products = ProductFactory.create_batch(
        count,
        category=category,
        title=factory.Sequence(lambda n: f"Puzzle number {n}"),
        image_urls=["https://m.media-amazon.com/x.jpg"],
        rating=Decimal("4.0"),
        list_price_usd=Decimal("99.00"),
    )
    warehouse = WarehouseFactory(code="icn")
    for product in products[::3]:
        StockFactory(product=product, warehouse=warehouse)


@pytest.mark.parametrize("count", [10, 50, 100])
def test_category_page_query_count_does_not_grow(
    client, tree, settings, django_assert_num_queries, count
):
    settings.CATALOG_PAGE_SIZE = 100
    fill_catalog(count, tree["jigsaw"])
    with django_assert_num_queries(CATEGORY_PAGE_QUERIES):
        response = client.get(tree["puzzles"].get_absolute_url(), {"sort": "price_asc"})
    assert len(response.context["page_obj"]) == count
    assert response.content.decode().count('class="card"') == count


@pytest.mark.parametrize("count", [10, 50, 100])
def test_search_page_query_count_does_not_grow(
    client, tree, settings, django_assert_num_queries, count
):
    settings.CATALOG_PAGE_SIZE = 100
    fill_catalog(count, tree["jigsaw"])
    with django_assert_num_queries(SEARCH_PAGE_QUERIES):
        response = client.get(SEARCH_URL, {"fast": "", "min_price": "1000"})
    assert len(response.context["page_obj"]) == count


@pytest.mark.parametrize("count", [10, 50, 100])
def test_search_with_text_query_count_does_not_grow(
    client, tree, settings, django_assert_num_queries, count
):
    settings.CATALOG_PAGE_SIZE = 100
    fill_catalog(count, tree["jigsaw"])
    with django_assert_num_queries(SEARCH_WITH_TEXT_QUERIES[connection.vendor]):
        response = client.get(SEARCH_URL, {"q": "puzzle", "category": "toys"})
    assert len(response.context["page_obj"]) == count


@pytest.mark.parametrize("images", [0, 1, 8])
def test_product_page_query_count_is_fixed(client, tree, django_assert_num_queries, images):
    domestic = ProductFactory(
        category=tree["jigsaw"],
        image_urls=[f"https://m.media-amazon.com/{n}.jpg" for n in range(images)],
        bullet_points=["a"] * images,
    )
    StockFactory(product=domestic)
    # + the customs rate, read for the page cache's key (catalog.cache) on a cold cache.
    with django_assert_num_queries(PRODUCT_PAGE_QUERIES + 1):
        client.get(domestic.get_absolute_url())

    abroad = ProductFactory(category=tree["toys"], source_price_usd=Decimal("300"))
    cache.clear()
    with django_assert_num_queries(PRODUCT_PAGE_QUERIES + 1):  # + the customs rate
        response = client.get(abroad.get_absolute_url())
    assert response.context["import_fees"] is not None
