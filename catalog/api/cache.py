"""Response cache of the partner API's product list, ``GET /api/v1/products/`` without
filters (``?limit=`` and ``?cursor=`` only): the rendered JSON body of a page is kept in the
default cache (Redis in production) and served again while it is still exactly right.

What is cached, and for whom:

- Only ``200`` answers to ``GET``/``HEAD`` whose query string has nothing but ``limit``
  (a plain number, 1 … ``API_PAGE_SIZE_MAX``) and ``cursor`` (exactly as the API issues
  them, without an offset), each at most once. Filtered lists (``q``, ``category``, price,
  stock, ``updated_since``) are never cached: whether a product *not* on the page matches
  can change with any price or stock change. Invalid parameters give a 400 and leave
  nothing behind; so do made-up parameters (the page is built, not cached).
- The body does not depend on the partner: the same page is shared by every key with
  ``catalog:read`` (authentication, the scope check and the rate limit run on every
  request, before the cache is looked at).
- The key holds everything else the body depends on: the absolute URL (scheme, host, path
  and query: ``url`` and ``next``/``previous`` are absolute), the negotiated media type
  (``Accept: application/json; indent=4`` indents), the language, the time zone, the
  Seoul date (delivery promises are dated) and the page size settings.

When a cached page is not served (it is built again instead), checked on *every* request:

- **FX, margin and content version**: the selling rate (as ``fx_rate_current`` returns
  it), ``PRICE_MARGIN`` and the catalog pages' version (``catalog.cache.VERSION_KEY``,
  bumped by ``pages_invalidate`` at the end of every import, on category admin changes and
  FX refreshes) are stored with the page and compared with the current ones, fetched in
  the same cache round trip as the page.
- **The page's products and everything about them that can change without an import**:
  one indexed query (``range_signature``) reads, for the whole id range the page was cut
  from (from the cursor's position to the first product of the next page, or to the end),
  each listed product's id, USD price, ``updated_at`` (every ORM save moves it, and the
  importer's ``bulk_update`` sets it: title, brand, weight, category, image edits),
  category, customs class and whether it has domestic stock. A product deactivated,
  reactivated, created or deleted inside the range, a price, stock or product edit: the
  page is built again. The storefront page cache (``catalog.cache``) checks the products a
  page shows; this also sees a product *appear* in a page's stretch of the list.
- Entries expire after ``CATALOG_PAGE_CACHE_SECONDS`` (0 turns this cache off too), which
  bounds what nothing above covers (a category's name changed by a raw ``UPDATE``, a
  customs class's code edited in the admin).

There is no per-process window without a check (unlike the storefront pages'
``CATALOG_PAGE_RECHECK_SECONDS``): a hit costs one cache round trip and one query, and
every change above shows on the very next request.
"""

from __future__ import annotations

import datetime
import hashlib
from base64 import b64encode
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions
from rest_framework.request import Request

from catalog.cache import VERSION_KEY, page_cache_seconds

LIST_KEY = "catalog:api:products:{digest}"
# The only query parameters of a cacheable list request.
CACHED_PARAMS = frozenset({"limit", "cursor"})
_MAX_POSITION = 2**63 - 1  # a product id is a bigint


@dataclass(frozen=True)
class PageRange:
    """The ids a page was cut from: ``lower < id`` (or ``<=`` when ``lower_inclusive``)
    and ``id < upper`` (or ``<=``); ``None`` is unbounded. The inclusive end is the first
    product *after* the page in the walk's direction (its existence decides ``next`` or
    ``previous``; nothing else of it is shown)."""

    lower: int | None
    lower_inclusive: bool
    upper: int | None
    upper_inclusive: bool

    @property
    def boundary(self) -> int | None:
        """The id of the product just beyond the page (only its existence matters)."""
        if self.lower_inclusive:
            return self.lower
        if self.upper_inclusive:
            return self.upper
        return None


@dataclass(frozen=True)
class CachedList:
    body: bytes
    content_type: str
    conditions: tuple  # selling rate, margin and content version it was built under
    page_range: PageRange
    signature: tuple


def _canonical_cursor(offset: int, reverse: bool, position) -> str:
    """The cursor DRF's ``CursorPagination.encode_cursor`` issues for these values."""
    tokens = {}
    if offset != 0:
        tokens["o"] = str(offset)
    if reverse:
        tokens["r"] = "1"
    if position is not None:
        tokens["p"] = position
    return b64encode(urlencode(tokens, doseq=True).encode("ascii")).decode("ascii")


def list_cacheable(request: Request, paginator) -> bool:
    """Whether this list request may be served from (and fill) the cache: see the module
    docstring. An invalid cursor is left to the view (a 400, never cached)."""
    if page_cache_seconds() <= 0 or request.method not in ("GET", "HEAD"):
        return False
    params = request.query_params
    if not set(params) <= CACHED_PARAMS or any(len(params.getlist(k)) != 1 for k in params):
        return False
    limit = params.get("limit")
    if limit is not None and not (
        limit.isascii()
        and limit.isdigit()
        and str(int(limit)) == limit
        and 1 <= int(limit) <= settings.API_PAGE_SIZE_MAX
    ):
        return False
    raw_cursor = params.get("cursor")
    if raw_cursor is None:
        return True
    try:
        cursor = paginator.decode_cursor(request)
    except exceptions.ValidationError:
        return False
    return (
        cursor is not None
        and cursor.offset == 0
        and cursor.position is not None
        and int(cursor.position) <= _MAX_POSITION
        and raw_cursor == _canonical_cursor(cursor.offset, cursor.reverse, cursor.position)
    )


def list_key(request: Request, *, now: datetime.datetime) -> str:
    """Which cached page: everything the body depends on besides the data (module
    docstring). ``now``: the moment the page's delivery promises are dated from."""
    parts = (
        request.build_absolute_uri(),
        str(getattr(request, "accepted_media_type", "")),
        translation.get_language() or "",
        timezone.get_current_timezone_name(),
        timezone.localdate(now).isoformat(),
        str(settings.API_PAGE_SIZE),
        str(settings.API_PAGE_SIZE_MAX),
    )
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return LIST_KEY.format(digest=digest)


def list_lookup(key: str) -> tuple[object, tuple, Decimal]:
    """The cached entry under ``key`` (or ``None``), the conditions a page built now has
    (selling rate, ``PRICE_MARGIN``, content version) and the selling rate itself, in one
    ``get_many``; a rate missing from the cache is read as ``fx_rate_current`` reads it."""
    from catalog.models import ExchangeRate
    from catalog.selectors import FX_CACHE_KEY, fx_rate_current

    selling_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.SELLING)
    found = cache.get_many([VERSION_KEY, selling_key, key])
    selling = found.get(selling_key) or fx_rate_current(kind=ExchangeRate.Kind.SELLING)
    conditions = (str(selling.rate), str(settings.PRICE_MARGIN), str(found.get(VERSION_KEY, 0)))
    return found.get(key), conditions, selling.rate


def _amount(value) -> Decimal | None:
    """A price that compares equal whatever the driver returned: PostgreSQL's ``Decimal``
    as it is (``Decimal`` equality is numeric: ``20.00 == 20``), SQLite's float or text
    made one. Nothing is formatted on PostgreSQL: a hit compares ~50 of these."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _instant(value) -> datetime.datetime | None:
    """A timestamp that compares equal whatever the driver returned: an aware
    ``datetime`` as it is (aware datetimes compare by instant), SQLite's text or naive
    value read as UTC."""
    if value is None or (isinstance(value, datetime.datetime) and value.tzinfo is not None):
        return value
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.UTC)
    return value


def _row(pk, usd, updated_at, category_id, customs_class_id, domestic_units) -> tuple:
    return (
        int(pk),
        _amount(usd),
        _instant(updated_at),
        category_id,
        customs_class_id,
        int(domestic_units or 0) > 0,
    )


def signature_of_page(products, page_range: PageRange) -> tuple:
    """The signature (``range_signature``) of a page built from ``products`` (annotated
    with ``domestic_available``), the product just beyond it counted by id only."""
    rows = [
        _row(
            p.pk,
            p.source_price_usd,
            p.updated_at,
            p.category_id,
            p.customs_class_id,
            p.domestic_available,
        )
        for p in products
    ]
    if page_range.boundary is not None:
        rows.append((page_range.boundary,))
    return tuple(sorted(rows))


# Markers standing for the range bounds among the compiled query's parameters (ids are
# never negative), and the compiled SQL per range shape and database.
_LOWER_MARKER = -904_412_771_001
_UPPER_MARKER = -904_412_771_002
_RANGE_SQL: dict[tuple, tuple[str, list]] = {}


def _range_statement(page_range: PageRange) -> tuple[str, list]:
    """The range query for this shape of range as SQL and parameters (markers in place of
    the bounds), built by the ORM from the list's own unfiltered queryset (so the same
    products count as listed) and compiled once per process."""
    from catalog import selectors

    shape = (
        connection.alias + connection.vendor,
        page_range.lower is not None,
        page_range.lower_inclusive,
        page_range.upper is not None,
        page_range.upper_inclusive,
    )
    if shape not in _RANGE_SQL:
        queryset = selectors.product_list_for_partner(fx_rate=Decimal(1))
        if page_range.lower is not None:
            lookup = "gte" if page_range.lower_inclusive else "gt"
            queryset = queryset.filter(**{f"id__{lookup}": _LOWER_MARKER})
        if page_range.upper is not None:
            lookup = "lte" if page_range.upper_inclusive else "lt"
            queryset = queryset.filter(**{f"id__{lookup}": _UPPER_MARKER})
        queryset = queryset.order_by().values_list(
            "id",
            "source_price_usd",
            "updated_at",
            "category_id",
            "customs_class_id",
            "domestic_available",
        )
        _RANGE_SQL[shape] = queryset.query.sql_with_params()
    sql, params = _RANGE_SQL[shape]
    return sql, list(params)


def range_signature(page_range: PageRange) -> tuple:
    """What a page cut from ``page_range`` depends on, read now (one indexed query): every
    listed product in the range by id with its price, ``updated_at``, category, customs
    class and whether it ships from Korea; the product just beyond the page by id only."""
    sql, params = _range_statement(page_range)
    params = [
        page_range.lower if p == _LOWER_MARKER else page_range.upper if p == _UPPER_MARKER else p
        for p in params
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    boundary = page_range.boundary
    return tuple(sorted((int(row[0]),) if int(row[0]) == boundary else _row(*row) for row in rows))


def page_range_of(paginator) -> PageRange:
    """The id range the paginator (``storefront.api.pagination.CursorPagination`` ordered
    by id, after ``paginate_queryset``, cursor without offset) cut its page from."""
    cursor = paginator.cursor
    position = None if cursor is None or cursor.position is None else int(cursor.position)
    if cursor is not None and cursor.reverse:
        # Descending from the position (exclusive) to the product before the page.
        beyond = int(paginator.previous_position) if paginator.has_previous else None
        return PageRange(
            lower=beyond,
            lower_inclusive=beyond is not None,
            upper=position,
            upper_inclusive=False,
        )
    beyond = int(paginator.next_position) if paginator.has_next else None
    return PageRange(
        lower=position, lower_inclusive=False, upper=beyond, upper_inclusive=beyond is not None
    )


def entry_fresh(entry: object, conditions: tuple) -> bool:
    """Whether a cached entry may be served now: built under the same conditions, and the
    products of its range unchanged (one query)."""
    return (
        isinstance(entry, CachedList)
        and entry.conditions == conditions
        and range_signature(entry.page_range) == entry.signature
    )


def entry_response(entry: CachedList) -> HttpResponse:
    return HttpResponse(entry.body, content_type=entry.content_type)


def entry_store(key: str, *, body: bytes, content_type: str, conditions: tuple, paginator):
    """Cache a page just built (under ``conditions`` read before it was built)."""
    page_range = page_range_of(paginator)
    entry = CachedList(
        body=body,
        content_type=content_type,
        conditions=conditions,
        page_range=page_range,
        signature=signature_of_page(paginator.page, page_range),
    )
    cache.set(key, entry, page_cache_seconds())
