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
page is asked for many times a second, so two things spare most of them:

- Each web process keeps the pages it served in its own memory (``_recent``, at most
  ``RECENT_PAGES``) and serves such a page again without any check for
  ``CATALOG_PAGE_RECHECK_SECONDS`` (1 s by default; 0 checks every request) after its
  check.
- A process that checked a page leaves a small **check record** in the cache (which
  entry it found right, under which conditions, and when). Another process holding
  the same entry in memory reads that record with the current conditions (one small
  ``get_many``, no page, no SQL) and, while the record is under
  ``CATALOG_PAGE_RECHECK_SECONDS`` old, serves its copy until the record's window ends.
  So a page is checked against PostgreSQL about once per window across all processes
  and hosts, instead of once per window in each process.

So a change to price, stock, FX or content shows within that window everywhere (an
explicit invalidation at once in the process that made it, and at the next record
read in the others), never later. Records carry wall-clock times, so web hosts' clocks
are assumed to agree (NTP) to well within the window.
"""

from __future__ import annotations

import hashlib
import secrets
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
# Who last found the page under PAGE_KEY right, and when (``_CheckRecord``).
CHECKED_KEY = "catalog:page:checked:{digest}"
# Stands for the CSRF token in a cached page; only letters, so no escaping changes it.
CSRF_PLACEHOLDER = "gsCsrfTokenPlaceholderQx7Zk"


# Pages this process served recently: key → (monotonic time of their last check, entry
# token, html). Kept past their window too (bounded by RECENT_PAGES), so a check record
# naming the same token lets this copy be served again without fetching the page.
RECENT_PAGES = 256
_recent: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
_recent_lock = threading.Lock()
_clock = time.monotonic  # tests move it
_wall_clock = time.time  # check records are compared across processes and hosts


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
    # Tells this rendering from any other of the same page (check records name it). Empty
    # on entries of a release that did not have it: those are never matched by a record.
    token: str = ""


@dataclass(frozen=True)
class _CheckRecord:
    """A process found the entry ``token`` right under ``conditions`` at ``checked_at``
    (``time.time()``)."""

    token: str
    conditions: tuple
    checked_at: float


def page_recheck_seconds() -> float:
    """How long this process may serve a page it checked without checking again
    (``CATALOG_PAGE_RECHECK_SECONDS``)."""
    return float(getattr(settings, "CATALOG_PAGE_RECHECK_SECONDS", 1.0))


def recent_clear() -> None:
    """Forget the pages this process checked (the next request checks again)."""
    with _recent_lock:
        _recent.clear()


def _recent_get(key: str) -> tuple[str | None, tuple[str, str] | None]:
    """This process's copy of the page under ``key``: its html when its check is still
    inside the window, else ``None``; and (token, html) of the copy whatever its age, for
    a check record to vouch for (``None`` when there is no copy)."""
    window = page_recheck_seconds()
    if window <= 0:
        return None, None
    with _recent_lock:
        found = _recent.get(key)
        if found is None:
            return None, None
        _recent.move_to_end(key)
    checked, token, html = found
    if _clock() - checked < window:
        return html, (token, html)
    return None, (token, html)


def _recent_put(key: str, token: str, html: str, *, age: float = 0.0) -> None:
    """Remember the page under ``key`` as checked ``age`` seconds ago."""
    if page_recheck_seconds() <= 0:
        return
    with _recent_lock:
        _recent[key] = (_clock() - age, token, html)
        _recent.move_to_end(key)
        while len(_recent) > RECENT_PAGES:
            _recent.popitem(last=False)


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


def _vouched(record: object, *, token: str, conditions: tuple) -> float | None:
    """How many seconds ago ``record`` found the entry ``token`` right under
    ``conditions``, if that is still inside the window (else ``None``). A record from a
    host whose clock is a little ahead counts as just made."""
    if not (
        isinstance(record, _CheckRecord)
        and record.token == token
        and record.conditions == conditions
    ):
        return None
    age = max(0.0, _wall_clock() - record.checked_at)
    return age if age < page_recheck_seconds() else None


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
    digest = _page_digest(request, view=view)
    key = PAGE_KEY.format(digest=digest)
    checked_key = CHECKED_KEY.format(digest=digest)
    html, copy = _recent_get(key)
    if html is not None:
        return _respond(request, html)
    if copy is not None:
        # This process's copy is past its window: if another process has checked the same
        # entry since, under the current conditions, serve the copy until that check's
        # window ends (a small read instead of the page and the query).
        token, html = copy
        record, conditions = _lookup(checked_key, customs_rate=customs_rate)
        age = _vouched(record, token=token, conditions=conditions)
        if age is not None:
            _recent_put(key, token, html, age=age)
            return _respond(request, html)
    entry, conditions = _lookup(key, customs_rate=customs_rate)
    if (
        isinstance(entry, CachedPage)
        and entry.token
        and entry.conditions == conditions
        and products_signature(entry.product_ids) == entry.signature
    ):
        _record_check(
            key,
            checked_key,
            token=entry.token,
            html=entry.html,
            conditions=conditions,
            share=copy is not None,
        )
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
        token=secrets.token_hex(8),
    )
    cache.set(key, entry, page_cache_seconds())
    _record_check(
        key,
        checked_key,
        token=entry.token,
        html=html,
        conditions=conditions,
        share=copy is not None,
    )
    return _respond(request, html)


def _record_check(
    key: str, checked_key: str, *, token: str, html: str, conditions: tuple, share: bool
) -> None:
    """This process found (or made) the entry ``token`` right just now: remember its copy,
    and, when ``share`` (this process had served the page before: it is asked for often
    enough that the others likely hold it too), tell the other processes with a check
    record. A page seen once in a while (one of thousands of product pages) costs no
    record write. Nothing at all without a window."""
    if page_recheck_seconds() <= 0:
        return
    _recent_put(key, token, html)
    if not share:
        return
    record = _CheckRecord(token=token, conditions=conditions, checked_at=_wall_clock())
    cache.set(checked_key, record, page_cache_seconds())
