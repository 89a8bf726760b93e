"""The search page's cost and what its cheaper rendering must keep.

A text search reads its page and the number of matches in one query (``COUNT(*) OVER
()``); the typo fallback (trigrams, PostgreSQL) runs only when full text finds nothing.
The filter form's widgets are built by ``catalog.forms.FilterFormRenderer`` and must be
exactly what Django's widget templates make; product cards get their values ready-made
from ``catalog_tags._card_context``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.urls import reverse
from django.utils import translation

from catalog import selectors
from catalog.forms import FilterFormRenderer, ProductFilterForm
from catalog.models import ExchangeRate
from catalog.templatetags import catalog_tags
from tests.factories import CategoryFactory, ExchangeRateFactory, ProductFactory

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("catalog:search")
RATE = Decimal("1400")


@pytest.fixture(autouse=True)
def selling_rate(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    return ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=RATE)


def asins(response) -> list[str]:
    return [product.asin for product in response.context["page_obj"]]


def warm(client) -> None:
    """One search first, so the rate, the categories and the navigation are cached and
    the counts below are the search's own."""
    client.get(SEARCH_URL, {"q": "warm"})


# --- Queries ---------------------------------------------------------------------------------


def test_a_text_search_is_one_query_for_the_page_and_its_count(
    client, settings, django_assert_num_queries
):
    settings.CATALOG_PAGE_SIZE = 2
    for reviews in (50, 40, 30, 20, 10):
        ProductFactory(title="Wooden puzzle", review_count=reviews)
    warm(client)
    with django_assert_num_queries(1):
        response = client.get(SEARCH_URL, {"q": "puzzle", "page": "2"})
    page = response.context["page_obj"]
    assert (page.number, page.paginator.count, page.paginator.num_pages) == (2, 5, 3)
    assert page.has_previous()
    assert page.has_next()
    assert len(page) == 2
    assert (page.start_index(), page.end_index()) == (3, 4)
    html = response.content.decode()
    assert 'rel="next"' in html
    assert 'rel="prev"' in html


def test_the_page_is_in_relevance_order_as_the_selector_ranks(client, settings):
    settings.CATALOG_PAGE_SIZE = 3
    ProductFactory(title="Puzzle mat", review_count=900)
    ProductFactory(title="Puzzle glue for puzzle mats and puzzle frames", review_count=1)
    ProductFactory(title="Jigsaw puzzle", review_count=5)
    ProductFactory(title="Puzzle box puzzle", review_count=7)
    ranked = [
        p.asin for p in selectors.product_search(query="puzzle", fx_rate=RATE)
    ]  # the selector as the partner API uses it (with its probe)
    first = client.get(SEARCH_URL, {"q": "puzzle"})
    second = client.get(SEARCH_URL, {"q": "puzzle", "page": "2"})
    assert asins(first) + asins(second) == ranked


@pytest.mark.postgres
def test_the_typo_fallback_costs_one_more_query_only_when_full_text_finds_nothing(
    client, django_assert_num_queries
):
    ProductFactory(title="Wireless Bluetooth Headphones")
    ProductFactory(title="Garden hose")
    warm(client)
    with django_assert_num_queries(2):  # full text (nothing), then trigrams
        response = client.get(SEARCH_URL, {"q": "headphnes"})
    assert [p.title for p in response.context["page_obj"]] == ["Wireless Bluetooth Headphones"]
    assert response.context["page_obj"].paginator.count == 1


@pytest.mark.postgres
def test_typo_fallback_keeps_filters_sort_and_pagination(client, settings):
    settings.CATALOG_PAGE_SIZE = 1
    audio = CategoryFactory(slug="audio", name="Audio")
    cheap = ProductFactory(title="Headphones A", category=audio, source_price_usd=Decimal("10"))
    dear = ProductFactory(title="Headphones B", category=audio, source_price_usd=Decimal("90"))
    ProductFactory(title="Headphones C")  # another category
    response = client.get(
        SEARCH_URL, {"q": "headphnes", "category": "audio", "sort": "price_desc", "page": "2"}
    )
    page = response.context["page_obj"]
    assert (page.number, page.paginator.count) == (2, 2)
    assert asins(response) == [cheap.asin]
    first = client.get(SEARCH_URL, {"q": "headphnes", "category": "audio", "sort": "price_desc"})
    assert asins(first) == [dear.asin]


def test_nothing_found_anywhere_says_so(client, django_assert_num_queries):
    ProductFactory(title="Garden hose")
    warm(client)
    queries = 2 if connection.vendor == "postgresql" else 1  # + the typo fallback
    with django_assert_num_queries(queries):
        response = client.get(SEARCH_URL, {"q": "zeppelin"}, HTTP_COOKIE="django_language=en")
    assert asins(response) == []
    assert response.context["page_obj"].paginator.count == 0
    assert "No products match." in response.content.decode()


@pytest.mark.parametrize(
    ("page", "shown", "notice"),
    [
        ("7", 3, "There is no page 7: showing the last page, 3."),
        ("4", 3, "There is no page 4: showing the last page, 3."),
        ("0", 1, "That page number is not valid: showing page 1."),
        ("two", 1, "That page number is not valid: showing page 1."),
        ("99999999999999999999", 3, "There is no page 99999999999999999999"),
    ],
)
def test_a_text_search_page_out_of_range_shows_the_nearest_page_with_a_notice(
    client, settings, page, shown, notice
):
    settings.CATALOG_PAGE_SIZE = 2
    products = [ProductFactory(title="Wooden puzzle", review_count=n) for n in (5, 4, 3, 2, 1)]
    response = client.get(
        SEARCH_URL, {"q": "puzzle", "page": page}, HTTP_COOKIE="django_language=en"
    )
    assert response.status_code == 200
    current = response.context["page_obj"]
    assert current.number == shown
    assert current.paginator.count == 5
    expected = [p.asin for p in products][(shown - 1) * 2 : shown * 2]
    assert asins(response) == expected
    assert notice in response.content.decode()


def test_past_the_end_costs_the_count_and_the_last_page(
    client, settings, django_assert_num_queries
):
    settings.CATALOG_PAGE_SIZE = 2
    ProductFactory.create_batch(3, title="Wooden puzzle")
    warm(client)
    with django_assert_num_queries(3):  # the empty page, the count, the last page
        response = client.get(SEARCH_URL, {"q": "puzzle", "page": "9"})
    assert response.context["page_obj"].number == 2


@pytest.mark.postgres
def test_a_typo_search_past_the_end_shows_the_last_page_of_the_fallback(client, settings):
    settings.CATALOG_PAGE_SIZE = 1
    ProductFactory(title="Wireless Headphones")
    ProductFactory(title="Wired Headphones")
    response = client.get(
        SEARCH_URL, {"q": "headphnes", "page": "5"}, HTTP_COOKIE="django_language=en"
    )
    assert response.context["page_obj"].number == 2
    assert response.context["page_obj"].paginator.count == 2
    assert "There is no page 5: showing the last page, 2." in response.content.decode()


def test_a_search_without_text_still_counts_separately(client, django_assert_num_queries):
    """Without text, the list is every product: a window count would read them all
    instead of the page's index walk, so the count stays its own query."""
    ProductFactory.create_batch(3)
    warm(client)
    with django_assert_num_queries(2):
        response = client.get(SEARCH_URL)
    assert response.context["page_obj"].paginator.count == 3


# --- The filter form's widgets ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"q": "coffee"},
        {"q": "say \"hi\" <b>&</b> 'x'", "min_price": "<script>", "max_price": "-5"},
        {"q": "mug", "min_price": "50,000", "max_price": "100", "fast": "on", "sort": "newest"},
        {"category": "toys", "sort": "bogus", "fast": "0"},
        {"category": "nested", "q": "x" * 201},
        {"category": "nowhere"},
    ],
)
@pytest.mark.parametrize("with_category", [True, False])
def test_filter_widgets_are_exactly_what_the_widget_templates_make(data, with_category):
    CategoryFactory(slug="toys", name="Toys & <Games>")
    CategoryFactory(slug="nested", name='Nested "one"', parent=CategoryFactory(slug="root"))
    cache.clear()
    fast = ProductFilterForm(data, with_category=with_category)
    fast.filters()
    assert isinstance(fast.renderer, FilterFormRenderer)
    slow = ProductFilterForm(data, with_category=with_category, renderer=DjangoTemplates())
    slow.filters()
    assert list(fast.fields) == list(slow.fields)
    for name in fast.fields:
        assert str(fast[name]) == str(slow[name]), name


# --- Product cards --------------------------------------------------------------------------


def card_context(product, language="en"):
    with translation.override(language):
        context = Context({"fx_rate": RATE}, autoescape=True)
        return catalog_tags._card_context(context, product, 3, catalog_tags._CardText.current())


def test_a_card_links_to_the_product_page_as_reverse_does():
    product = ProductFactory(asin="B0TESTCARD")
    assert card_context(product)["url"] == product.get_absolute_url()
    odd = ProductFactory.build(asin="B0 ?#%&é")  # never imported, but never mangled
    assert card_context(odd)["url"] == odd.get_absolute_url()


@pytest.mark.parametrize(
    ("language", "reviews", "text"),
    [
        ("en", 1, "4.5 out of 5 (1 review)"),
        ("en", 12345, "4.5 out of 5 (12,345 reviews)"),
    ],
)
def test_a_card_rating_reads_as_the_rating_template_says(language, reviews, text):
    product = ProductFactory(rating=Decimal("4.5"), review_count=reviews)
    assert str(card_context(product, language)["rating"]) == text
    unrated = ProductFactory(rating=None)
    assert card_context(unrated)["rating"] == ""


def test_a_card_escapes_what_the_feed_wrote(client):
    ProductFactory(
        title='<img src=x onerror="alert(1)"> puzzle', image_urls=["javascript:alert(1)"]
    )
    html = client.get(SEARCH_URL, {"q": "puzzle"}).content.decode()
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; puzzle" in html
    assert "javascript:" not in html
    assert "img/placeholder" in html
