"""Catalog reads shared by shopper pages, admin and (later) the partner API."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVectorField,
    TrigramWordSimilarity,
)
from django.core.cache import cache
from django.db import connection
from django.db.models import F, Func, Q, QuerySet
from django.shortcuts import get_object_or_404

from fulfillment import selectors as stock_selectors

from .models import Category, ExchangeRate, Product

logger = logging.getLogger(__name__)

FX_CACHE_KEY = "catalog:fx:{kind}"
FX_CACHE_SECONDS = 60
CATEGORY_ROOTS_CACHE_KEY = "catalog:category-roots"
CATEGORY_ROOTS_CACHE_SECONDS = 300

SORTS = ("relevance", "price_asc", "price_desc", "newest", "rating")


class ProductSearchDocument(Func):
    """``to_tsvector('english', title || ' ' || brand)``: the very expression the GIN index
    ``catalog_product_search_document`` is built on (migration 0003), so PostgreSQL uses it."""

    template = "to_tsvector('english'::regconfig, %(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = SearchVectorField()

    def __init__(self) -> None:
        super().__init__(F("title"), F("brand"))


@dataclass(frozen=True)
class FxRate:
    rate: Decimal
    kind: str
    source: str
    effective_at: object | None


def fx_rate_current(*, kind: str = ExchangeRate.Kind.SELLING) -> FxRate:
    """The newest published USD→KRW rate of a kind (cached for a minute; the refresh
    service clears the cache). Before any rate was fetched, the seed rate from settings;
    a customs rate falls back to the selling rate until one is published."""
    key = FX_CACHE_KEY.format(kind=kind)
    cached = cache.get(key)
    if cached is not None:
        return cached
    row = ExchangeRate.objects.filter(kind=kind, base_currency="USD", quote_currency="KRW").first()
    if row is not None:
        current = FxRate(row.rate, kind, row.source, row.effective_at)
    elif kind != ExchangeRate.Kind.SELLING:
        current = fx_rate_current(kind=ExchangeRate.Kind.SELLING)
    else:
        logger.warning("no USD/KRW rate stored yet; using FX_SEED_USD_KRW")
        current = FxRate(settings.FX_SEED_USD_KRW, kind, "seed", None)
    cache.set(key, current, FX_CACHE_SECONDS)
    return current


def fx_cache_clear() -> None:
    cache.delete_many([FX_CACHE_KEY.format(kind=kind) for kind in ExchangeRate.Kind.values])


def category_roots() -> list[Category]:
    """Top-level categories for navigation (cached; categories change only on import)."""
    roots = cache.get(CATEGORY_ROOTS_CACHE_KEY)
    if roots is None:
        roots = list(Category.objects.get_root_nodes())
        cache.set(CATEGORY_ROOTS_CACHE_KEY, roots, CATEGORY_ROOTS_CACHE_SECONDS)
    return roots


def category_cache_clear() -> None:
    cache.delete(CATEGORY_ROOTS_CACHE_KEY)


def category_get_by_slug(*, slug: str) -> Category:
    return get_object_or_404(Category, slug=slug)


def category_children(*, category: Category) -> list[Category]:
    return list(Category.objects.get_children(category))


def product_get_for_shopper(*, asin: str) -> Product:
    """An active product by ASIN with what its page shows, or 404."""
    return get_object_or_404(
        Product.objects.select_related("category", "customs_class").annotate(
            domestic_available=stock_selectors.domestic_available_subquery()
        ),
        asin=asin.upper(),
        is_active=True,
    )


def _shopper_products() -> QuerySet[Product]:
    """Active products with what a product card needs; ``domestic_available`` comes from
    a correlated subquery so a page costs the same number of queries at any size."""
    return (
        Product.objects.filter(is_active=True)
        .only(
            "id",
            "asin",
            "title",
            "brand",
            "image_urls",
            "source_price_usd",
            "list_price_usd",
            "rating",
            "review_count",
            "created_at",
            "category_id",
        )
        .annotate(domestic_available=stock_selectors.domestic_available_subquery())
    )


def products_newest(*, limit: int) -> list[Product]:
    return list(_shopper_products().order_by("-created_at", "-id")[:limit])


def products_popular(*, limit: int) -> list[Product]:
    return list(_shopper_products().order_by("-review_count", "-id")[:limit])


def _text_search(queryset: QuerySet[Product], query: str) -> QuerySet[Product]:
    """Full-text search on PostgreSQL (English stemming, GIN-indexed), a trigram
    similarity fallback for typos when nothing matches; word containment on SQLite."""
    if connection.vendor == "postgresql":
        search_query = SearchQuery(query, search_type="websearch", config="english")
        document = ProductSearchDocument()
        matched = queryset.alias(document=document).filter(document=search_query)
        matched = matched.annotate(relevance=SearchRank(document, search_query))
        if matched.exists():
            return matched
        # Typos ("legoo"): trigram word similarity on the title, GIN-indexed too.
        return queryset.filter(title__trigram_word_similar=query).annotate(
            relevance=TrigramWordSimilarity(query, "title")
        )
    condition = Q()
    for word in query.split():
        condition &= Q(title__icontains=word) | Q(brand__icontains=word)
    return queryset.filter(condition).annotate(relevance=F("review_count"))


def product_search(
    *,
    query: str = "",
    category: Category | None = None,
    min_price_krw: int | None = None,
    max_price_krw: int | None = None,
    fast_delivery: bool = False,
    sort: str = "relevance",
    fx_rate: Decimal,
) -> QuerySet[Product]:
    """Active products matching a shopper's search and filters, sorted.

    The won price filter becomes an exact USD range (``pricing.usd_range_for_krw_range``),
    so it runs on the indexed source price. ``fast_delivery`` keeps products that can ship
    from a domestic warehouse now. Without a query, "relevance" means most reviewed.
    """
    from .pricing import usd_range_for_krw_range

    queryset = _shopper_products()
    if category is not None:
        queryset = queryset.filter(
            category_id__in=Category.objects.filter(path__startswith=category.path).values("id")
        )
    if min_price_krw is not None or max_price_krw is not None:
        low, high = usd_range_for_krw_range(
            min_krw=min_price_krw, max_krw=max_price_krw, fx_rate=fx_rate
        )
        if low is not None:
            queryset = queryset.filter(source_price_usd__gte=low)
        if high is not None:
            queryset = queryset.filter(source_price_usd__lte=high)
    if fast_delivery:
        queryset = queryset.filter(stock_selectors.domestic_stock_exists())
    query = query.strip()
    if query:
        queryset = _text_search(queryset, query)

    if sort == "price_asc":
        return queryset.order_by("source_price_usd", "id")
    if sort == "price_desc":
        return queryset.order_by("-source_price_usd", "-id")
    if sort == "newest":
        return queryset.order_by("-created_at", "-id")
    if sort == "rating":
        return queryset.order_by(F("rating").desc(nulls_last=True), "-review_count", "-id")
    if query:
        return queryset.order_by("-relevance", "-review_count", "-id")
    return queryset.order_by("-review_count", "-id")
