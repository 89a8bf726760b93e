"""Catalog selectors: search (full text and trigrams on PostgreSQL, word containment on
SQLite), filters, category trail and the import-fees estimate of a product page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from catalog import selectors
from catalog.models import ExchangeRate, Product
from tests.factories import (
    CategoryFactory,
    CustomsClassFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

RATE = Decimal("1400")


def search(**kwargs) -> list[str]:
    return [p.title for p in selectors.product_search(fx_rate=RATE, **kwargs)]


# --- Search on any database ------------------------------------------------------------------


def test_every_word_must_match_title_or_brand():
    ProductFactory(title="Wooden Jigsaw Puzzle", brand="Ravensburger")
    ProductFactory(title="Plastic Puzzle", brand="Acme")
    ProductFactory(title="Wooden Spoon", brand="Acme")
    assert search(query="wooden puzzle") == ["Wooden Jigsaw Puzzle"]
    assert search(query="ravensburger") == ["Wooden Jigsaw Puzzle"]


def test_search_ignores_inactive_products_and_blank_queries():
    ProductFactory(title="Puzzle", is_active=False)
    active = ProductFactory(title="Puzzle box", review_count=3)
    assert search(query="puzzle") == ["Puzzle box"]
    assert search(query="   ") == [active.title]


def test_search_results_carry_the_domestic_stock_annotation():
    product = ProductFactory(title="Puzzle")
    StockFactory(product=product, on_hand=7, allocated=2)
    [found] = selectors.product_search(query="puzzle", fx_rate=RATE)
    assert found.domestic_available == 5


# --- Search on PostgreSQL ----------------------------------------------------------------------


@pytest.mark.postgres
def test_full_text_search_stems_english_words():
    ProductFactory(title="Wooden jigsaw puzzle for adults")
    ProductFactory(title="Running shoes")
    assert search(query="puzzles") == ["Wooden jigsaw puzzle for adults"]
    assert search(query="run") == ["Running shoes"]


@pytest.mark.postgres
def test_full_text_search_understands_web_search_syntax():
    ProductFactory(title="Wooden jigsaw puzzle")
    ProductFactory(title="Plastic jigsaw puzzle")
    assert search(query="puzzle -wooden") == ["Plastic jigsaw puzzle"]
    assert search(query='"wooden jigsaw"') == ["Wooden jigsaw puzzle"]


@pytest.mark.postgres
def test_full_text_search_ranks_better_matches_first():
    ProductFactory(title="Puzzle mat", review_count=900)
    ProductFactory(title="Puzzle glue for puzzle mats and puzzle frames", review_count=1)
    ranked = search(query="puzzle")
    assert ranked[0] == "Puzzle glue for puzzle mats and puzzle frames"


@pytest.mark.postgres
def test_a_typo_finds_the_product_through_trigrams():
    ProductFactory(title="Wireless Bluetooth Headphones")
    ProductFactory(title="Garden hose")
    assert search(query="headphnes") == ["Wireless Bluetooth Headphones"]
    assert search(query="blutooth headphones") == ["Wireless Bluetooth Headphones"]


@pytest.mark.postgres
def test_typo_search_still_applies_the_filters():
    category = CategoryFactory(slug="audio")
    ProductFactory(title="Wireless Headphones", category=category)
    ProductFactory(title="Wired Headphones")
    assert search(query="headphnes", category=category) == ["Wireless Headphones"]


@pytest.mark.postgres
def test_the_search_document_is_stored_and_kept_by_the_database():
    """``search_vector`` is a generated column: written on insert and on every change of
    the title or brand, whoever writes them (the importer's bulk writes, the admin, a raw
    ``UPDATE``), and GIN-indexed."""
    product = ProductFactory(title="Wooden jigsaw puzzle", brand="Acme")
    product.refresh_from_db()
    assert set(product.search_vector.split()) >= {"'wooden':1", "'jigsaw':2", "'puzzl':3"}
    Product.objects.filter(pk=product.pk).update(title="Ceramic coffee mug")
    assert selectors.product_search(query="mug", fx_rate=RATE).get() == product
    assert not selectors.product_search(query="puzzle", fx_rate=RATE).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'catalog_product_search_vector'"
        )
        [indexdef] = cursor.fetchone()
        # The expression index of 0003 is gone (0009): it cost every write a to_tsvector.
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'catalog_product_search_document'"
        )
        [old_index] = cursor.fetchone()
    assert "USING gin (search_vector)" in indexdef
    assert old_index == 0


@pytest.mark.postgres
def test_ranking_reads_the_stored_document():
    """No ``to_tsvector`` per matching row: the query only reads ``search_vector``."""
    ProductFactory(title="Wooden jigsaw puzzle")
    sql, _params = selectors.product_search(query="puzzle", fx_rate=RATE).query.sql_with_params()
    assert "to_tsvector" not in sql
    assert 'ts_rank("catalog_product"."search_vector"' in sql


def explain(queryset) -> str:
    return queryset.explain()


def leave_only_the_search_indexes() -> None:
    """Take the planner's alternatives away inside the test's transaction (rolled back
    after it): no sequential scans, no btree on ``is_active``. On a few rows either would
    win on cost, and the table's statistics vary from run to run."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_product' "
            "AND indexdef LIKE '%%USING btree (is_active%%'"
        )
        for (index,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{index}"')


@pytest.mark.postgres
def test_full_text_search_uses_the_gin_index():
    """With the document stored, reading a few thousand rows is cheap, so on a small table
    PostgreSQL rightly scans it; on the benchmark's 107,000 products it picks this index by
    itself ("lego": Bitmap Index Scan on catalog_product_search_vector, 0.5 ms,
    docs/performance.md). Here the alternatives are taken away: what is left must be the
    GIN index, which proves the WHERE clause is one that index serves."""
    ProductFactory.create_batch(5)
    ProductFactory(title="Wooden jigsaw puzzle")
    leave_only_the_search_indexes()
    queryset = selectors.product_search(query="puzzles", fx_rate=RATE)
    assert [p.title for p in queryset] == ["Wooden jigsaw puzzle"]
    plan = explain(queryset)
    assert "Bitmap Index Scan on catalog_product_search_vector" in plan, plan


@pytest.mark.postgres
def test_typo_fallback_is_served_by_the_trigram_index():
    """Trigram scans are costed high: PostgreSQL picks this index by itself from about
    100,000 rows (the benchmark's size; 6 ms there against 70 ms for a sequential scan
    of 30,000 rows). A test table that big is slow to fill, so the alternatives are taken
    away instead: what is left must be the trigram index, which proves the selector's
    WHERE clause is one that index serves."""
    ProductFactory.create_batch(5)
    ProductFactory(asin="B0HEADPHON", title="Wireless Bluetooth Headphones")
    leave_only_the_search_indexes()
    queryset = selectors.product_search(query="headphnes", fx_rate=RATE)
    assert [p.asin for p in queryset] == ["B0HEADPHON"]
    plan = explain(queryset)
    assert "Bitmap Index Scan on catalog_product_title_trgm" in plan, plan


# --- Filters ---------------------------------------------------------------------------------


def test_price_range_in_won_becomes_an_exact_usd_range(settings):
    settings.PRICE_MARGIN = Decimal("0.10")
    ProductFactory(title="cheap", source_price_usd=Decimal("19.99"))  # ₩30,790
    ProductFactory(title="dear", source_price_usd=Decimal("20.00"))  # ₩30,800
    assert search(min_price_krw=30790, max_price_krw=30790) == ["cheap"]
    assert search(min_price_krw=30791, max_price_krw=30800) == ["dear"]
    assert search(min_price_krw=30791, max_price_krw=30799) == []


def test_category_filter_covers_the_subtree_only():
    toys = CategoryFactory(slug="toys")
    puzzles = CategoryFactory(slug="puzzles", parent=toys)
    # A sibling root whose path starts like toys' would not be matched by mistake.
    CategoryFactory(slug="books")
    ProductFactory(title="in toys", category=toys)
    ProductFactory(title="in puzzles", category=puzzles)
    ProductFactory(title="nowhere", category=None)
    assert sorted(search(category=toys)) == ["in puzzles", "in toys"]
    assert search(category=puzzles) == ["in puzzles"]


def test_unknown_sort_falls_back_to_most_reviewed():
    ProductFactory(title="few", review_count=1)
    ProductFactory(title="many", review_count=10)
    assert search(sort="bogus") == ["many", "few"]


# --- Categories, FX, import fees -------------------------------------------------------------


def test_category_trail_is_root_first_and_one_query(django_assert_num_queries):
    toys = CategoryFactory(name="Toys")
    puzzles = CategoryFactory(name="Puzzles", parent=toys)
    jigsaw = CategoryFactory(name="Jigsaw", parent=puzzles)
    with django_assert_num_queries(1):
        trail = selectors.category_trail(category=jigsaw)
    assert [c.name for c in trail] == ["Toys", "Puzzles", "Jigsaw"]
    with django_assert_num_queries(1):
        assert selectors.category_trail(category=toys) == [toys]
    assert selectors.category_trail(category=None) == []


def test_category_roots_are_sorted_by_name_and_cached(django_assert_num_queries):
    CategoryFactory(name="Toys")
    CategoryFactory(name="Books")
    with django_assert_num_queries(1):
        assert [c.name for c in selectors.category_roots()] == ["Books", "Toys"]
    with django_assert_num_queries(0):
        selectors.category_roots()


def test_nav_links_are_the_roots_by_name_with_their_urls_cached_until_cleared(
    django_assert_num_queries,
):
    CategoryFactory(name="Toys", slug="toys")
    CategoryFactory(name="Books", slug="books")
    with django_assert_num_queries(1):
        links = selectors.category_nav_links()
    assert links == [
        selectors.NavLink("Books", reverse_category("books")),
        selectors.NavLink("Toys", reverse_category("toys")),
    ]
    with django_assert_num_queries(0):
        assert selectors.category_nav_links() == links
    CategoryFactory(name="Apps", slug="apps")
    assert [link.name for link in selectors.category_nav_links()] == ["Books", "Toys"]
    selectors.category_cache_clear()  # what the importer and the category admin call
    assert [link.name for link in selectors.category_nav_links()] == ["Apps", "Books", "Toys"]


def reverse_category(slug: str) -> str:
    from django.urls import reverse

    return reverse("catalog:category", kwargs={"slug": slug})


def test_import_fees_use_the_customs_rate_and_the_freight_for_the_weight():
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1380"))
    product = ProductFactory(
        source_price_usd=Decimal("250.00"),
        weight_kg=Decimal("1.600"),  # 6,000 + 2 × 2,000 = 10,000 freight
        customs_class=CustomsClassFactory(code="clothing", duty_rate=Decimal("0.13")),
    )
    estimate = selectors.product_import_fees_estimate(product=product)
    assert estimate.freight_krw == 10000
    assert not estimate.duty_free
    # 250 × 1380 = 345,000 + 10,000 = 355,000; duty 13% = 46,150; VAT 10% of 401,150 = 40,115.
    assert (estimate.assessment.duty_krw, estimate.assessment.vat_krw) == (46150, 40115)
    assert estimate.import_fees_krw == 86265


def test_import_fees_fall_back_to_the_selling_rate_before_a_customs_rate_exists():
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1000"))
    product = ProductFactory(source_price_usd=Decimal("200.01"), weight_kg=Decimal("0.5"))
    estimate = selectors.product_import_fees_estimate(product=product)
    assert estimate.assessment.customs_rate == Decimal("1000")
    assert estimate.assessment.customs_value_krw == 206010  # 200,010 + 6,000 freight


def test_import_fees_at_the_limit_are_nothing():
    product = ProductFactory(source_price_usd=Decimal("200.00"))
    estimate = selectors.product_import_fees_estimate(product=product)
    assert estimate.duty_free
    assert estimate.import_fees_krw == 0
