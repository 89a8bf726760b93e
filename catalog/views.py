"""Shopper pages of the catalog: category, search and product pages (server-rendered)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_safe

from fulfillment import selectors as stock_selectors

from . import selectors
from .cache import page_serve
from .forms import ProductFilterForm, ProductFilters
from .models import Category, Product
from .templatetags.catalog_tags import product_page_text, web_url


@dataclass(frozen=True)
class Listing:
    """One page of products and what the page says about it."""

    page: Page
    notice: str = ""

    ellipsis = Paginator.ELLIPSIS

    @property
    def page_range(self) -> list:
        """Page numbers around the current one, with ``ellipsis`` for the gaps."""
        return list(
            self.page.paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1)
        )


def _requested_page(request: HttpRequest) -> tuple[int, str]:
    """The page number asked for, or 1 with a notice when it is not a valid number."""
    raw = request.GET.get("page", "1").strip() or "1"
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        return 1, _("That page number is not valid: showing page 1.")
    return number, ""


_MAX_OFFSET = 2**31


def _paginate(
    request: HttpRequest, products: QuerySet[Product], *, count_with_page: bool = False
) -> Listing:
    """The requested page of ``products`` (``settings.CATALOG_PAGE_SIZE`` each). A page
    number that is not a number or out of range shows the nearest page with a notice
    instead of an error.

    ``count_with_page`` reads the page and the total in one query (``COUNT(*) OVER ()``)
    instead of a ``COUNT`` and then the page: for a text search, whose matches the
    database collects and ranks in full for any page anyway. Only a page past the end
    costs the ``COUNT`` (and then the last page) as before."""
    size = settings.CATALOG_PAGE_SIZE
    number, notice = _requested_page(request)
    if count_with_page:
        counted = products.annotate(full_count=Window(Count("*")))
        paginator = Paginator(counted, size)
        bottom = (number - 1) * size
        # Far past any catalog (and past what OFFSET accepts): straight to the count.
        rows = list(counted[bottom : bottom + size]) if bottom < _MAX_OFFSET else []
        if rows:
            paginator.count = rows[0].full_count
            return Listing(Page(rows, number, paginator), notice)
        # Nothing matches, or the page is past the end.
        paginator.count = products.count() if number > 1 else 0
    else:
        paginator = Paginator(products, size)
    if number > paginator.num_pages:
        last = paginator.num_pages
        notice = _("There is no page %(number)s: showing the last page, %(last)s.") % {
            "number": number,
            "last": last,
        }
        return Listing(paginator.page(last), notice)
    return Listing(paginator.page(number), notice)


def _search(
    filters: ProductFilters,
    *,
    category: Category | None,
    fx_rate: Decimal,
    text_match: str = selectors.TEXT_MATCH_AUTO,
) -> QuerySet[Product]:
    return selectors.product_search(
        query=filters.query,
        category=category,
        min_price_krw=filters.min_price_krw,
        max_price_krw=filters.max_price_krw,
        fast_delivery=filters.fast_delivery,
        sort=filters.sort,
        fx_rate=fx_rate,
        text_match=text_match,
    )


@require_safe
def category(request: HttpRequest, slug: str) -> HttpResponse:
    """A category's products (its descendants' too), its child categories and the trail
    of its ancestors, with the price, fast-delivery and sort filters. Anonymous visitors
    share a cached copy (``catalog.cache``), except with the fast-delivery filter, whose
    list itself changes with stock."""

    def build(extra: dict) -> tuple[HttpResponse, list[Product]]:
        current = selectors.category_get_by_slug(slug=slug)
        form = ProductFilterForm(request.GET, with_category=False)
        filters = form.filters()
        fx = selectors.fx_rate_current()
        listing = _paginate(request, _search(filters, category=current, fx_rate=fx.rate))
        context = {
            "category": current,
            "ancestors": selectors.category_ancestors(category=current),
            "children": selectors.category_children(category=current),
            "form": form,
            "listing": listing,
            "page_obj": listing.page,
            "fx_rate": fx.rate,
            **extra,
        }
        response = render(request, "catalog/category.html", context)
        return response, list(listing.page)

    # Not "fast": that list itself changes with stock.
    params = frozenset({"page", "sort", "min_price", "max_price"})
    return page_serve(request, view="catalog:category", build=build, params=params)


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """``/search/?q=``: full-text search (PostgreSQL) with the category, price,
    fast-delivery and sort filters. Without a query it lists everything filtered."""
    form = ProductFilterForm(request.GET)
    filters = form.filters()
    fx = selectors.fx_rate_current()
    if filters.query:
        # Full text first, with the count in the page's query; the typo fallback only
        # when full text finds nothing at all (one query for a normal search, not a probe,
        # a count and the page).
        matches = [selectors.TEXT_MATCH_FULL_TEXT]
        if selectors.search_has_typo_fallback():
            matches.append(selectors.TEXT_MATCH_TYPOS)
        for match in matches:
            found = _search(filters, category=filters.category, fx_rate=fx.rate, text_match=match)
            listing = _paginate(request, found, count_with_page=True)
            if listing.page.paginator.count:
                break
    else:
        listing = _paginate(request, _search(filters, category=filters.category, fx_rate=fx.rate))
    context = {
        "query": filters.query,
        "form": form,
        "listing": listing,
        "page_obj": listing.page,
        "fx_rate": fx.rate,
    }
    return render(request, "catalog/search.html", context)


@require_safe
def product(request: HttpRequest, asin: str) -> HttpResponse:
    """A product page: gallery, details, price in won, the delivery promise and, when it
    ships across the border, the estimated import fees for one unit. Unknown or inactive
    ASIN → 404. Anonymous visitors share a cached copy (``catalog.cache``)."""

    def build(extra: dict) -> tuple[HttpResponse, list[Product]]:
        item = selectors.product_get_for_shopper(asin=asin)
        # Both rates in one cache round trip; the customs rate is for the import fees.
        fx, customs_fx = selectors.fx_rates_current()
        promise = stock_selectors.delivery_promise(domestic_units=item.domestic_available)
        images = [url for url in item.image_urls if web_url(url)]
        trail = selectors.category_trail(category=item.category)
        import_fees = (
            None
            if promise.domestic
            else selectors.product_import_fees_estimate(product=item, customs_rate=customs_fx.rate)
        )
        # Month and weekday names come from Django's own Korean/English catalogs.
        delivery_date_format = pgettext("delivery date format", "D, M j")
        context = {
            "product": item,
            "images": images,
            "trail": trail,
            "fx_rate": fx.rate,
            "promise": promise,
            "import_fees": import_fees,
            # The values the template prints, worked out in Python (a miss renders fewer
            # template nodes): prices, breadcrumb links, messages, dates.
            "page_text": product_page_text(
                product=item,
                images=images,
                trail=trail,
                fx_rate=fx.rate,
                promise=promise,
                import_fees=import_fees,
                date_format=delivery_date_format,
            ),
            **extra,
        }
        return render(request, "catalog/product.html", context), [item]

    return page_serve(request, view="catalog:product", build=build, customs_rate=True)
