"""Catalog reads shared by shopper pages, admin and (later) the partner API."""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    TrigramWordSimilarity,
)
from django.core.cache import cache
from django.db import connection
from django.db.models import BigIntegerField, ExpressionWrapper, F, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from fulfillment import selectors as stock_selectors
from storefront.prepared import PreparedQuery

from . import cache as page_cache
from . import pricing
from .models import Category, ExchangeRate, Product

logger = logging.getLogger(__name__)

FX_CACHE_KEY = "catalog:fx:{kind}"
FX_CACHE_SECONDS = 60
CATEGORY_ROOTS_CACHE_KEY = "catalog:category-roots"
CATEGORY_ROOTS_CACHE_SECONDS = 300
CATEGORY_NAV_CACHE_KEY = "catalog:category-nav"

SORTS = ("relevance", "price_asc", "price_desc", "newest", "rating")
DEFAULT_SORT = "relevance"


@dataclass(frozen=True)
class FxRate:
    rate: Decimal
    kind: str
    source: str
    effective_at: datetime.datetime | None


def fx_rate_current(*, kind: str = ExchangeRate.Kind.SELLING) -> FxRate:
    """The newest published USD→KRW rate of a kind (cached for a minute; the refresh
    service clears the cache). Before any rate was fetched, the seed rate from settings;
    a customs rate falls back to the selling rate until one is published."""
    key = FX_CACHE_KEY.format(kind=kind)
    cached = cache.get(key)
    if cached is not None:
        return cached
    row = (
        ExchangeRate.objects.filter(
            kind=kind, base_currency="USD", quote_currency="KRW", effective_at__lte=timezone.now()
        )
        .order_by("-effective_at", "-id")
        .first()
    )
    if row is not None:
        current = FxRate(row.rate, kind, row.source, row.effective_at)
    elif kind != ExchangeRate.Kind.SELLING:
        current = fx_rate_current(kind=ExchangeRate.Kind.SELLING)
    else:
        logger.warning("no USD/KRW rate stored yet; using FX_SEED_USD_KRW")
        current = FxRate(settings.FX_SEED_USD_KRW, kind, "seed", None)
    cache.set(key, current, FX_CACHE_SECONDS)
    return current


def fx_rates_current() -> tuple[FxRate, FxRate]:
    """The current (selling, customs) rates, as ``fx_rate_current`` gives each, read from
    the cache in one round trip (``get_many``); a rate missing from it is read as
    ``fx_rate_current`` reads it (and cached)."""
    selling_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.SELLING)
    customs_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.CUSTOMS)
    found = cache.get_many([selling_key, customs_key])
    selling = found.get(selling_key) or fx_rate_current(kind=ExchangeRate.Kind.SELLING)
    customs = found.get(customs_key) or fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS)
    return selling, customs


def fx_cache_clear() -> None:
    """Forget the cached rates (and, to be sure, the cached catalog pages, whose key
    already holds the rates)."""
    cache.delete_many([FX_CACHE_KEY.format(kind=kind) for kind in ExchangeRate.Kind.values])
    page_cache.pages_invalidate()


def category_roots() -> list[Category]:
    """Top-level categories for navigation, by name (cached; categories change only on
    import, which calls ``category_cache_clear``)."""
    roots = cache.get(CATEGORY_ROOTS_CACHE_KEY)
    if roots is None:
        roots = list(Category.objects.get_root_nodes().order_by("name", "path"))
        cache.set(CATEGORY_ROOTS_CACHE_KEY, roots, CATEGORY_ROOTS_CACHE_SECONDS)
    return roots


@dataclass(frozen=True)
class NavLink:
    """A top-level category as the header and the home page link to it."""

    name: str
    url: str


def category_nav_links() -> list[NavLink]:
    """The top-level categories as links (name and URL), for the navigation on every
    page: cached like ``category_roots`` but as plain pairs, so a page neither unpickles
    model instances nor reverses a URL per category."""
    links = cache.get(CATEGORY_NAV_CACHE_KEY)
    if links is None:
        links = [NavLink(root.name, root.get_absolute_url()) for root in category_roots()]
        cache.set(CATEGORY_NAV_CACHE_KEY, links, CATEGORY_ROOTS_CACHE_SECONDS)
    return links


def category_cache_clear() -> None:
    """Forget the cached categories and every cached catalog page (called at the end of
    each feed import and on category edits in the admin)."""
    cache.delete_many([CATEGORY_ROOTS_CACHE_KEY, CATEGORY_NAV_CACHE_KEY])
    page_cache.pages_invalidate()


def category_get_by_slug(*, slug: str) -> Category:
    """A category by its slug, or 404."""
    return get_object_or_404(Category, slug=slug)


def category_find_by_slug(*, slug: str) -> Category | None:
    """A category by its slug, or ``None`` (for filters, where unknown is a form error)."""
    return Category.objects.filter(slug=slug).first()


def category_ids_with_descendants(*, category: Category) -> list[int]:
    """The ids of a category and everything below it, as a plain list: the planner can
    estimate ``category_id IN (1, 2, 3)`` from its statistics, whereas for a subquery on
    the tree path it guesses and walks the whole popularity index (docs/performance.md)."""
    return list(
        Category.objects.filter(path__startswith=category.path).values_list("id", flat=True)
    )


def category_children(*, category: Category) -> list[Category]:
    """The direct children of a category, by name (no query for a leaf)."""
    return list(Category.objects.get_children(category).order_by("name", "path"))


def category_ancestors(*, category: Category) -> list[Category]:
    """The ancestors of a category from the root down, for breadcrumbs (no query for a
    root)."""
    return list(Category.objects.get_ancestors(category))


# The breadcrumb query per trail depth, compiled once per process (``PreparedQuery``).
_CATEGORY_TRAILS: dict[int, PreparedQuery] = {}


def category_trail(*, category: Category | None) -> list[Category]:
    """The breadcrumb trail of a product's category: its ancestors and itself, root first,
    always one query when there is a category (the page's query count does not depend on
    how deep it sits)."""
    if category is None:
        return []
    steplen = category.steplen
    paths = [category.path[:end] for end in range(steplen, len(category.path) + 1, steplen)]
    prepared = _CATEGORY_TRAILS.get(len(paths))
    if prepared is None:
        names = [f"path_{n}" for n in range(len(paths))]
        prepared = _CATEGORY_TRAILS.setdefault(
            len(paths),
            PreparedQuery(
                lambda **paths: Category.objects.filter(path__in=paths.values()).order_by("depth"),
                *names,
                text=names,
            ),
        )
    return prepared.fetch(**{f"path_{n}": path for n, path in enumerate(paths)})


# Compiled once per process (``PreparedQuery``): building the SQL cost more Python than
# PostgreSQL spends running it.
_PRODUCT_FOR_SHOPPER = PreparedQuery(
    lambda asin: (
        Product.objects.select_related("category", "customs_class")
        .defer("search_vector")  # for the database's search only
        .annotate(domestic_available=stock_selectors.domestic_available_subquery())
        .filter(asin=asin, is_active=True)
    ),
    "asin",
    text=["asin"],
)


def product_get_for_shopper(*, asin: str) -> Product:
    """An active product by ASIN with what its page shows, or 404 (the query is compiled
    once per process)."""
    found = _PRODUCT_FOR_SHOPPER.fetch(asin=asin.upper())
    if not found:
        raise Http404("No Product matches the given query.")
    return found[0]


@dataclass(frozen=True)
class ImportFeesEstimate:
    """What customs would charge for one unit shipped across the border on its own.

    ``assessment`` is ``catalog.pricing.customs_assess`` for that unit, with the freight
    for the product's weight and the customs FX rate; ``weight_estimated`` says the
    weight (and so the freight in the customs value) is a category estimate."""

    assessment: pricing.CustomsAssessment
    freight_krw: int
    weight_kg: Decimal
    weight_estimated: bool

    @property
    def duty_free(self) -> bool:
        return self.assessment.duty_free

    @property
    def import_fees_krw(self) -> int:
        return self.assessment.import_fees_krw


def product_import_fees_estimate(
    *, product: Product, customs_rate: Decimal | None = None
) -> ImportFeesEstimate:
    """The import fees for one unit of ``product`` bought on its own (the product page's
    note). Orders are assessed as a whole at checkout, which may cross the limit.
    ``customs_rate``: the current customs rate when the caller has it already."""
    customs_class = product.customs_class
    line = pricing.CustomsLine(
        reference=product.asin,
        goods_value_usd=product.source_price_usd,
        duty_rate=customs_class.duty_rate,
        vat_applies=customs_class.vat_applies,
        list_clearance=customs_class.list_clearance,
        description=product.title,
    )
    freight = pricing.cross_border_freight_krw(weight_kg=product.weight_kg)
    if customs_rate is None:
        customs_rate = fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS).rate
    return ImportFeesEstimate(
        assessment=pricing.customs_assess(
            lines=[line], freight_krw=freight, customs_rate=customs_rate
        ),
        freight_krw=freight,
        weight_kg=product.weight_kg,
        weight_estimated=product.weight_estimated,
    )


def _shopper_products() -> QuerySet[Product]:
    """Active products with what a product card needs; ``domestic_available`` comes from
    a correlated subquery so a page costs the same number of queries at any size.

    A fresh copy of a queryset built once per process: building it (the subquery's
    expressions) cost ~0.6 ms of CPU a call, for every list and search page. It holds no
    value read at build time, and the shared one is never evaluated (only copied)."""
    return _shopper_products_base().all()


@functools.cache
def _shopper_products_base() -> QuerySet[Product]:
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
    """The newest active products, for the home page."""
    return list(_shopper_products().order_by("-created_at", "-id")[:limit])


def products_popular(*, limit: int) -> list[Product]:
    """The most reviewed active products, for the home page."""
    return list(_shopper_products().order_by("-review_count", "-id")[:limit])


# How ``product_search`` matches the words of a query (PostgreSQL; SQLite always uses word
# containment):
TEXT_MATCH_AUTO = "auto"  # full text, or the typo fallback when full text finds nothing
TEXT_MATCH_FULL_TEXT = "full_text"  # full text only
TEXT_MATCH_TYPOS = "typos"  # the typo fallback only (trigram word similarity)


def search_has_typo_fallback() -> bool:
    """Whether the database has the typo fallback (``TEXT_MATCH_TYPOS``): PostgreSQL's
    trigrams. A caller that asked for ``TEXT_MATCH_FULL_TEXT`` and found nothing asks
    again with ``TEXT_MATCH_TYPOS`` only then."""
    return connection.vendor == "postgresql"


def _full_text_search(queryset: QuerySet[Product], query: str) -> QuerySet[Product]:
    """Full-text matches (English stemming, web search syntax), ranked by ``ts_rank`` on
    the stored document (GIN-indexed): nothing computes to_tsvector per row."""
    search_query = SearchQuery(query, search_type="websearch", config="english")
    return queryset.filter(search_vector=search_query).annotate(
        relevance=SearchRank(F("search_vector"), search_query)
    )


def _typo_search(queryset: QuerySet[Product], query: str) -> QuerySet[Product]:
    """Typos ("headphnes"): ``title %> query`` (word similarity), served by the trigram
    GIN index on the title, ranked by that similarity."""
    return queryset.filter(title__trigram_word_similar=query).annotate(
        relevance=TrigramWordSimilarity(query, "title")
    )


def _text_search(
    queryset: QuerySet[Product], query: str, *, match: str = TEXT_MATCH_AUTO
) -> QuerySet[Product]:
    """Full-text search on PostgreSQL (English stemming, GIN-indexed), a trigram
    word-similarity fallback for typos when nothing matches; word containment on SQLite.
    Annotates ``relevance`` (higher is better).

    ``match`` (PostgreSQL): ``TEXT_MATCH_AUTO`` probes with one query whether full text
    finds anything and returns the full-text or the typo queryset accordingly;
    ``TEXT_MATCH_FULL_TEXT`` and ``TEXT_MATCH_TYPOS`` return one of them without a query,
    for a caller that learns from its own count whether to fall back (the search page:
    one query for a page and its count instead of three)."""
    if connection.vendor == "postgresql":
        if match == TEXT_MATCH_FULL_TEXT:
            return _full_text_search(queryset, query)
        if match == TEXT_MATCH_TYPOS:
            return _typo_search(queryset, query)
        search_query = SearchQuery(query, search_type="websearch", config="english")
        matched = queryset.filter(search_vector=search_query)
        # Not ``exists()``: for ``LIMIT 1`` without an order the planner scans the table
        # computing ``to_tsvector`` row by row, hoping for an early match, which for words
        # whose products sit together took 150-300 ms ("sunscreen", docs/performance.md).
        # Ordered by ``id + 0`` (no index has it) it takes the matches from the GIN index.
        probe = matched.annotate(
            probe_position=ExpressionWrapper(F("id") + 0, output_field=BigIntegerField())
        ).order_by("probe_position")
        if probe.values_list("pk", flat=True)[:1]:
            return _full_text_search(queryset, query)
        return _typo_search(queryset, query)
    if match == TEXT_MATCH_TYPOS:
        return queryset.none()
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
    sort: str = DEFAULT_SORT,
    fx_rate: Decimal,
    text_match: str = TEXT_MATCH_AUTO,
) -> QuerySet[Product]:
    """Active products matching a shopper's search and filters, sorted.

    ``category`` includes its descendants. The won price filter becomes an exact USD range
    (``pricing.usd_range_for_krw_range``) so it runs on the indexed source price.
    ``fast_delivery`` keeps products that can ship from a domestic warehouse now. Without
    a query, "relevance" means most reviewed; an unknown sort falls back to relevance.
    ``text_match`` chooses full text, the typo fallback or both (``_text_search``).
    """
    queryset = _shopper_products()
    if category is not None:
        queryset = queryset.filter(category_id__in=category_ids_with_descendants(category=category))
    if min_price_krw is not None or max_price_krw is not None:
        low, high = pricing.usd_range_for_krw_range(
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
        queryset = _text_search(queryset, query, match=text_match)

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


# What the partner API shows of a product (and the keys it needs to follow relations).
PARTNER_PRODUCT_FIELDS = (
    "id",
    "asin",
    "title",
    "brand",
    "image_urls",
    "source_price_usd",
    "weight_kg",
    "updated_at",
    "category_id",
    "category__slug",
    "category__name",
    "customs_class_id",
    "customs_class__code",
)


def product_list_for_partner(
    *,
    query: str = "",
    category: Category | None = None,
    min_price_krw: int | None = None,
    max_price_krw: int | None = None,
    in_stock_domestic: bool | None = None,
    updated_since: datetime.datetime | None = None,
    fx_rate: Decimal,
) -> QuerySet[Product]:
    """Active products for the partner API's product list, in ``id`` order.

    The same filters as the shopper's search (``product_search``: the category with its
    descendants, the won price range as an exact USD range at ``fx_rate``, the same text
    search), plus ``in_stock_domestic`` (``True``: can ship from Korea now; ``False``:
    cannot; ``None``: either) and ``updated_since`` (``updated_at`` at or after it). Rows
    come with their category and customs class and ``domestic_available``, so a page of
    any size is one query. ``id`` order never changes when a product is edited, so a cursor
    walk sees every product exactly once.
    """
    queryset = product_search(
        query=query,
        category=category,
        min_price_krw=min_price_krw,
        max_price_krw=max_price_krw,
        fast_delivery=in_stock_domestic is True,
        fx_rate=fx_rate,
    )
    if in_stock_domestic is False:
        queryset = queryset.filter(~stock_selectors.domestic_stock_exists())
    if updated_since is not None:
        queryset = queryset.filter(updated_at__gte=updated_since)
    position = F("id")
    if query.strip() and connection.vendor == "postgresql":
        # Ordered by the bare id, the planner walks the primary key and evaluates the text
        # match row by row until a page is full: ~0.3 s for "coffee" over 100k products,
        # far worse for rare words (docs/performance.md). ``id + 0`` hides that index, so it
        # finds the matches with the GIN index first and sorts those few.
        position = ExpressionWrapper(F("id") + 0, output_field=BigIntegerField())
    # Exactly the columns ``catalog.api.serializers.ProductSerializer`` shows (not the
    # descriptions and bullet points the storefront page has, nor the search document):
    # they were most of the bytes of a page of 50.
    return (
        queryset.only(*PARTNER_PRODUCT_FIELDS)
        .select_related("category", "customs_class")
        .annotate(list_position=position)
        .order_by("list_position")
    )
