"""Whole-page cache of the anonymous catalog pages (home, category, product).

What is cached, and for whom:

- Only ``GET``/``HEAD`` requests that carry **no session cookie and no messages cookie**:
  such a visitor is anonymous, has no cart (the header shows 0) and no flash message.
  Signed-in shoppers and anonymous shoppers with a cart always get a freshly rendered
  page (they have a session cookie).
- The page is rendered once with a placeholder instead of the CSRF token; every response
  built from the cache gets the visitor's own token (``get_token``), so the CSRF cookie
  and the forms (language switch, add to cart) work exactly as on a rendered page.

When a cached page is not served (it is rendered again instead):

- **Price and stock** of the products the page shows are checked on *every* hit with one
  indexed query (``products_signature``): USD price, list price, active flag and domestic
  units available. Any change, whatever wrote it (the importer, the admin, a
  reservation, an allocation, a shipment, a restock, a raw ``UPDATE``), shows on the next
  request. The check needs no hook in the services that change stock.
- **FX and margin** are part of the key: the current selling and customs rates (as
  ``catalog.selectors.fx_rate_current`` returns them; the FX refresh and the admin clear
  that cache when they store a rate) and ``settings.PRICE_MARGIN``.
- **Catalog content** (titles, descriptions, categories, which products a list shows):
  a version number in the cache, bumped by ``pages_invalidate``, which the importer (at
  the end of every import) and the category admin call through
  ``catalog.selectors.category_cache_clear``, and the FX services through
  ``fx_cache_clear``. Entries also expire after ``CATALOG_PAGE_CACHE_SECONDS`` (300 s by
  default), which bounds anything not covered above (for example a list's order by
  review count, or a customs class's duty rate edited in the admin).
- Only requests whose query parameters the page uses (``page_serve(params=...)``) are
  cached: a made-up query string gets a rendered page and leaves nothing behind.
- The **date** (Seoul) and the **language** are part of the key: delivery promises are
  dated, pages are translated.

The checks above cost a Redis round trip with the whole page and a query per hit. A busy
catalog is asked for many pages many times a second, so each web process also keeps the
pages it served in its own memory (``_recent``: the page, what it was rendered under and
the signature of its products; at most ``CATALOG_PAGE_MEMORY_MB``) and:

- serves such a page again without any check while its last check is under
  ``CATALOG_PAGE_RECHECK_SECONDS`` old (1 s by default; 0 keeps nothing and checks every
  request);
- once that window is over, re-checks **all** the pages it holds at once, the next time
  one of them is asked for: one ``get_many`` for the rates and the content version and
  one indexed query for the price, list price, active flag and domestic units of every
  product they show (the most recently served pages, up to ``RECHECK_MAX_PRODUCTS``
  products; any others are checked one by one when asked for). The pages still right
  get a new window; the others are forgotten (and fetched or rendered again when asked
  for). So a process asks PostgreSQL about its
  pages about once per window, however many it holds, instead of once per page.

So a change to price, stock, FX or content shows within that window in every process
(at once in the process that made an explicit invalidation), never later.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone, translation

VERSION_KEY = "catalog:pages:version"
PAGE_KEY = "catalog:page:{digest}"
# Stands for the CSRF token in a cached page; only letters, so no escaping changes it.
CSRF_PLACEHOLDER = "gsCsrfTokenPlaceholderQx7Zk"


@dataclass
class _Copy:
    """A page this process served: when a check last found it right (monotonic time),
    the html, and what the check compares (``CachedPage``)."""

    checked: float
    html: str
    conditions: tuple
    product_ids: tuple[int, ...]
    signature: tuple


# Pages this process served recently, least recently served first (``_recent_put`` keeps
# their html within ``page_memory_bytes``).
_recent: OrderedDict[str, _Copy] = OrderedDict()
_recent_size = 0  # characters of html held
_recent_checked = float("-inf")  # when ``_recent_recheck`` last ran (monotonic)
_recent_lock = threading.Lock()
_clock = time.monotonic  # tests move it
# The most products one re-check reads (its query costs ~10 ms per 1,000 products): a
# memory full of list pages (24 products each) is re-checked most recently served first.
RECHECK_MAX_PRODUCTS = 5_000


def page_cache_seconds() -> int:
    """How long a cached page may live at most (``CATALOG_PAGE_CACHE_SECONDS``; 0 turns
    the page cache off)."""
    return int(getattr(settings, "CATALOG_PAGE_CACHE_SECONDS", 300))


@dataclass(frozen=True)
class CachedPage:
    html: str
    conditions: tuple  # FX rates, margin and content version it was rendered under
    product_ids: tuple[int, ...]
    signature: tuple


def page_recheck_seconds() -> float:
    """How long this process may serve a page it checked without checking again
    (``CATALOG_PAGE_RECHECK_SECONDS``)."""
    return float(getattr(settings, "CATALOG_PAGE_RECHECK_SECONDS", 1.0))


def page_memory_bytes() -> int:
    """How much page html a process keeps (``CATALOG_PAGE_MEMORY_MB``)."""
    return int(float(getattr(settings, "CATALOG_PAGE_MEMORY_MB", 32)) * 1024 * 1024)


def recent_clear() -> None:
    """Forget the pages this process served (the next request checks again)."""
    global _recent_size
    with _recent_lock:
        _recent.clear()
        _recent_size = 0


def _recent_get(key: str) -> tuple[str | None, bool]:
    """This process's copy of the page under ``key``: its html when its last check is
    inside the window (else ``None``), and whether there is a copy at all."""
    window = page_recheck_seconds()
    if window <= 0:
        return None, False
    with _recent_lock:
        copy = _recent.get(key)
        if copy is None:
            return None, False
        _recent.move_to_end(key)
    return (copy.html if _clock() - copy.checked < window else None), True


def _recent_put(key: str, entry: CachedPage) -> None:
    """Remember ``entry`` (just found right, or just rendered) as checked now."""
    global _recent_size
    if page_recheck_seconds() <= 0:
        return
    limit = page_memory_bytes()
    with _recent_lock:
        old = _recent.pop(key, None)
        if old is not None:
            _recent_size -= len(old.html)
        _recent[key] = _Copy(
            checked=_clock(),
            html=entry.html,
            conditions=entry.conditions,
            product_ids=entry.product_ids,
            signature=entry.signature,
        )
        _recent_size += len(entry.html)
        while _recent_size > limit and len(_recent) > 1:
            _key, dropped = _recent.popitem(last=False)
            _recent_size -= len(dropped.html)


def _current_conditions() -> tuple[str, str, str, str]:
    """Selling rate, customs rate, margin and content version now (one ``get_many``; a rate
    missing from the cache is read as the selectors read it)."""
    from catalog.models import ExchangeRate
    from catalog.selectors import FX_CACHE_KEY, fx_rate_current

    selling_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.SELLING)
    customs_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.CUSTOMS)
    found = cache.get_many([VERSION_KEY, selling_key, customs_key])
    selling = found.get(selling_key) or fx_rate_current(kind=ExchangeRate.Kind.SELLING)
    customs = found.get(customs_key) or fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS)
    return (
        str(selling.rate),
        str(customs.rate),
        str(settings.PRICE_MARGIN),
        str(found.get(VERSION_KEY, 0)),
    )


def _signature_rows(product_ids: set[int]) -> dict[int, tuple]:
    """``signature_of`` rows of the active products among ``product_ids``, by id (one
    query)."""
    from catalog.models import Product
    from fulfillment import selectors as stock_selectors

    rows = (
        Product.objects.filter(pk__in=product_ids, is_active=True)
        .annotate(domestic_available=stock_selectors.domestic_available_subquery())
        .order_by()
        .values_list("pk", "source_price_usd", "list_price_usd", "domestic_available")
    )
    return {pk: (pk, _amount(usd), _amount(listed), int(units)) for pk, usd, listed, units in rows}


def _recent_recheck() -> None:
    """Check every page this process holds at once (the rates and version in one
    ``get_many``, every product they show in one query): the pages still right start a
    new window, the others are forgotten."""
    global _recent_checked, _recent_size
    started = _clock()
    held: list[tuple[str, _Copy]] = []
    product_ids: set[int] = set()
    with _recent_lock:
        # The most recently served first, up to RECHECK_MAX_PRODUCTS products: the rest
        # stay out of their window and are checked one by one if asked for again.
        for key, copy in reversed(_recent.items()):
            if held and len(product_ids) + len(copy.product_ids) > RECHECK_MAX_PRODUCTS:
                break
            held.append((key, copy))
            product_ids.update(copy.product_ids)
    current = _current_conditions()
    rows = _signature_rows(product_ids)
    with _recent_lock:
        for key, copy in held:
            if _recent.get(key) is not copy:
                continue  # replaced or forgotten meanwhile
            selling, customs, margin, version = current
            expected = (selling, customs if copy.conditions[1] else "", margin, version)
            signature = tuple(sorted(rows[pk] for pk in copy.product_ids if pk in rows))
            if copy.conditions == expected and signature == copy.signature:
                copy.checked = started
            else:
                del _recent[key]
                _recent_size -= len(copy.html)
        _recent_checked = started


def pages_invalidate() -> None:
    """Make every cached catalog page stale (bump the version in the key); this process
    forgets its recently checked pages at once, the others within
    ``CATALOG_PAGE_RECHECK_SECONDS``."""
    recent_clear()
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not there yet (or evicted): start from the clock, an integer
        # (Redis increments only integers) that differs from any value evicted before.
        cache.set(VERSION_KEY, int(timezone.now().timestamp() * 1000), None)


def page_cacheable(request: HttpRequest) -> bool:
    """Whether this request may get (and fill) the shared anonymous page."""
    if page_cache_seconds() <= 0 or request.method not in ("GET", "HEAD"):
        return False
    cookies = request.COOKIES
    if settings.SESSION_COOKIE_NAME in cookies:
        return False
    return getattr(settings, "MESSAGES_COOKIE_NAME", "messages") not in cookies


def _page_digest(request: HttpRequest, *, view: str) -> str:
    """Which page: view, full path with query, language and Seoul date (delivery promises
    are dated). What it was rendered under is in the entry (``_conditions``), so the page
    and the current rates and version come back in one cache round trip."""
    parts = (
        view,
        request.get_full_path(),
        translation.get_language() or "",
        timezone.localdate().isoformat(),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _lookup(key: str, *, customs_rate: bool) -> tuple[object, tuple]:
    """What the cache holds under ``key`` (or ``None``) and the conditions a page rendered
    now would have: the selling rate (and the customs rate for pages that show import
    fees) as ``fx_rate_current`` gives them, ``PRICE_MARGIN`` and the content version. One
    ``get_many``; a rate missing from the cache is read as the selectors read it."""
    from catalog.models import ExchangeRate
    from catalog.selectors import FX_CACHE_KEY, fx_rate_current

    selling_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.SELLING)
    customs_key = FX_CACHE_KEY.format(kind=ExchangeRate.Kind.CUSTOMS)
    found = cache.get_many([VERSION_KEY, selling_key, customs_key, key])
    selling = found.get(selling_key) or fx_rate_current(kind=ExchangeRate.Kind.SELLING)
    customs = ""
    if customs_rate:
        current = found.get(customs_key) or fx_rate_current(kind=ExchangeRate.Kind.CUSTOMS)
        customs = str(current.rate)
    conditions = (
        str(selling.rate),
        customs,
        str(settings.PRICE_MARGIN),
        str(found.get(VERSION_KEY, 0)),
    )
    return found.get(key), conditions


def _amount(value) -> str:
    """A price as the same text whatever the driver returned (Decimal, or float/str on
    SQLite): ``20.00``, ``20`` and ``20.0`` all give ``2E+1``."""
    return "None" if value is None else str(Decimal(str(value)).normalize())


def signature_of(products: Iterable) -> tuple:
    """What a page shows that can change without a new import: price, list price and
    domestic units, per product (the objects must carry ``domestic_available``)."""
    unique = {
        p.pk: (
            p.pk,
            _amount(p.source_price_usd),
            _amount(p.list_price_usd),
            int(p.domestic_available),
        )
        for p in products
    }
    return tuple(sorted(unique.values()))


# SQL of the signature query per number of products, compiled once per process: the ORM
# builds the same statement every time, and building it cost four times running it.
_SIGNATURE_SQL: dict[tuple[str, int], tuple[str, list]] = {}


def _signature_statement(count: int) -> tuple[str, list, list[int]]:
    """The signature query for ``count`` products as SQL and parameters, with the
    positions of the product ids among the parameters."""
    from catalog.models import Product
    from fulfillment import selectors as stock_selectors

    cache_key = (connection.alias + connection.vendor, count)
    if cache_key not in _SIGNATURE_SQL:
        # Negative ids never exist: they mark where the real ids go in the parameters.
        markers = [-(n + 1) for n in range(count)]
        queryset = (
            Product.objects.filter(pk__in=markers, is_active=True)
            .annotate(domestic_available=stock_selectors.domestic_available_subquery())
            .order_by()
            .values_list("pk", "source_price_usd", "list_price_usd", "domestic_available")
        )
        _SIGNATURE_SQL[cache_key] = queryset.query.sql_with_params()
    sql, params = _SIGNATURE_SQL[cache_key]
    params = list(params)
    positions = [params.index(-(n + 1)) for n in range(count)]
    return sql, params, positions


def products_signature(product_ids: Iterable[int]) -> tuple:
    """``signature_of`` the active products among ``product_ids``, read now (one query)."""
    ids = list(product_ids)
    if not ids:
        return ()
    sql, params, positions = _signature_statement(len(ids))
    for position, product_id in zip(positions, ids, strict=True):
        params[position] = product_id
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return tuple(
        sorted((pk, _amount(usd), _amount(lst), int(units)) for pk, usd, lst, units in rows)
    )


def _respond(request: HttpRequest, html: str) -> HttpResponse:
    return HttpResponse(html.replace(CSRF_PLACEHOLDER, get_token(request)))


# The page builder: given extra context, the rendered response and the products it shows.
PageBuilder = Callable[[dict], tuple[HttpResponse, list]]


def page_serve(
    request: HttpRequest,
    *,
    view: str,
    build: PageBuilder,
    customs_rate: bool = False,
    params: frozenset[str] = frozenset(),
) -> HttpResponse:
    """The page from the cache when it may be shared and is still right, else ``build``
    it (and cache it when it may be shared). Exceptions (404) pass through uncached.
    ``customs_rate``: the page shows import fees, so the customs rate is in the key.
    ``params``: the query parameters the page uses; a request with any other one is
    rendered and not cached, so made-up query strings cannot fill the cache."""
    if not page_cacheable(request) or not set(request.GET) <= params:
        return build({})[0]
    key = PAGE_KEY.format(digest=_page_digest(request, view=view))
    html, held = _recent_get(key)
    if html is None and held and _clock() - _recent_checked >= page_recheck_seconds():
        # This copy's window is over, and so is the last check of all the pages held:
        # check them all now (one query), then look again.
        _recent_recheck()
        html, held = _recent_get(key)
    if html is not None:
        return _respond(request, html)
    entry, conditions = _lookup(key, customs_rate=customs_rate)
    if (
        isinstance(entry, CachedPage)
        and entry.conditions == conditions
        and products_signature(entry.product_ids) == entry.signature
    ):
        _recent_put(key, entry)
        return _respond(request, entry.html)
    response, products = build({"csrf_token": CSRF_PLACEHOLDER})
    html = response.content.decode(response.charset)
    if response.status_code != 200 or response.has_header("Set-Cookie"):
        # Not a plain page: serve it to this visitor only.
        response.content = html.replace(CSRF_PLACEHOLDER, get_token(request))
        return response
    entry = CachedPage(
        html=html,
        conditions=conditions,
        product_ids=tuple(dict.fromkeys(p.pk for p in products)),
        signature=signature_of(products),
    )
    cache.set(key, entry, page_cache_seconds())
    _recent_put(key, entry)
    return _respond(request, html)
