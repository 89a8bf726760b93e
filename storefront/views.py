"""Site-wide views: home page, health checks and the error pages."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection
from redis import Redis

from catalog import selectors as catalog_selectors
from catalog.cache import page_serve

logger = logging.getLogger(__name__)

READY_CACHE_KEY = "storefront:health:ready"
# The broker check connects to the broker (a Redis PING): give up after this long, and
# reuse its result for this long, so a load balancer polling every few seconds costs the
# broker at most one connection per web process every couple of seconds.
BROKER_CHECK_TIMEOUT_SECONDS = 1.0
BROKER_CHECK_TTL_SECONDS = 2.0


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """New and popular products (``CATALOG_PAGE_SIZE`` of each) and the top-level
    categories."""
    size = settings.CATALOG_PAGE_SIZE

    def build(extra: dict) -> tuple[HttpResponse, list]:
        fx = catalog_selectors.fx_rate_current()
        newest = catalog_selectors.products_newest(limit=size)
        popular = catalog_selectors.products_popular(limit=size)
        context = {
            "newest": newest,
            "popular": popular,
            "categories": catalog_selectors.category_nav_links(),
            "fx_rate": fx.rate,
            **extra,
        }
        return render(request, "storefront/home.html", context), [*newest, *popular]

    # Anonymous visitors share a cached copy (catalog.cache: price, stock, FX checked).
    return page_serve(request, view="home", build=build)


@never_cache
def health_live(request: HttpRequest) -> HttpResponse:
    """The process answers. Touches neither the database nor the cache: it is also the
    benchmark's "minimal Django view" ceiling."""
    return HttpResponse("ok", content_type="text/plain")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 returned something else")


def _check_cache() -> None:
    token = uuid.uuid4().hex
    cache.set(READY_CACHE_KEY, token, timeout=10)
    if cache.get(READY_CACHE_KEY) != token:
        raise RuntimeError("the cache did not return what was just stored")


class _BrokerCheckMemo:
    """The last broker check's outcome per broker URL, for ``BROKER_CHECK_TTL_SECONDS``
    (per process; a changed URL, as in tests, is checked afresh)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, tuple[float, Exception | None]] = {}

    def get(self, url: str) -> tuple[bool, Exception | None]:
        with self._lock:
            found = self._results.get(url)
        if found is None or time.monotonic() - found[0] > BROKER_CHECK_TTL_SECONDS:
            return False, None
        return True, found[1]

    def put(self, url: str, error: Exception | None) -> None:
        with self._lock:
            self._results[url] = (time.monotonic(), error)

    def clear(self) -> None:
        with self._lock:
            self._results.clear()


broker_check_memo = _BrokerCheckMemo()


def _check_filesystem_broker() -> None:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    folders = {options.get(key) for key in ("data_folder_in", "data_folder_out")} - {None}
    for folder in sorted(folders or {str(settings.CELERY_BROKER_FOLDER)}):
        path = Path(folder)
        if not path.is_dir():
            raise RuntimeError(f"broker folder {path} is missing")
        if not os.access(path, os.W_OK | os.X_OK):
            raise RuntimeError(f"broker folder {path} is not writable")


def _check_broker_url(url: str) -> None:
    timeout = BROKER_CHECK_TIMEOUT_SECONDS
    if url.startswith(("redis://", "rediss://")):
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            if not client.ping():
                raise RuntimeError("the broker did not answer PING")
        finally:
            client.close()
        return
    # Any other kombu transport (amqp://, ...): one connection attempt, no retry loop.
    with Connection(url, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)


def _check_broker() -> None:
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("memory://"):
        return  # in-process transport: nothing to reach
    if url.startswith("filesystem://"):
        _check_filesystem_broker()  # a stat and an access() call, not worth memoizing
        return
    known, error = broker_check_memo.get(url)
    if not known:
        try:
            _check_broker_url(url)
        except Exception as exc:  # remembered as is, raised below
            error = exc
        else:
            error = None
        broker_check_memo.put(url, error)
    if error is not None:
        raise error


READY_CHECKS = (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker))


@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database (``SELECT 1``), the cache (a set and a get) and the
    Celery broker (``CELERY_BROKER_URL``: a Redis PING with a 1 s timeout, remembered for
    2 s; the filesystem broker's folders exist and are writable) answer. JSON with one
    entry per check, ``"ok"`` or ``"error"``; 503 when any fails (a load balancer then
    stops sending traffic here). Errors are logged, never shown: the body names the
    failed check only."""
    checks: dict[str, str] = {}
    for name, check in READY_CHECKS:
        try:
            check()
        except Exception as exc:  # any failure means "not ready", whatever its kind
            logger.warning("readiness check %s failed: %s", name, exc)
            checks[name] = "error"
        else:
            checks[name] = "ok"
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "error", "checks": checks}, status=200 if ready else 503
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 in the site's own look, with a search box and a way home; under /api/ the API's
    error format instead (a partner's client parses JSON)."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": _("Not found."), "fields": {}}, status=404
        )
    return render(request, "404.html", {"request_path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 without the request context: whatever failed (the database, say) must not be
    needed to say so. Falls back to plain text if even the template fails. Under /api/ the
    API's error format."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"code": "server_error", "message": "Server error.", "fields": {}}, status=500
        )
    try:
        return HttpResponseServerError(loader.get_template("500.html").render())
    except Exception:
        logger.exception("the 500 template failed to render")
        return HttpResponseServerError("Server error", content_type="text/plain")
