"""Site-wide views: home page, health checks and the error pages."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from catalog import selectors as catalog_selectors

logger = logging.getLogger(__name__)

READY_CACHE_KEY = "storefront:health:ready"


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """New and popular products (``CATALOG_PAGE_SIZE`` of each) and the top-level
    categories."""
    size = settings.CATALOG_PAGE_SIZE
    fx = catalog_selectors.fx_rate_current()
    context = {
        "newest": catalog_selectors.products_newest(limit=size),
        "popular": catalog_selectors.products_popular(limit=size),
        "categories": catalog_selectors.category_roots(),
        "fx_rate": fx.rate,
    }
    return render(request, "storefront/home.html", context)


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


@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database and the cache answer. JSON with one entry per check;
    503 when any fails (a load balancer then stops sending traffic here)."""
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("cache", _check_cache)):
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
    """404 in the site's own look, with a search box and a way home."""
    return render(request, "404.html", {"request_path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 without the request context: whatever failed (the database, say) must not be
    needed to say so. Falls back to plain text if even the template fails."""
    try:
        return HttpResponseServerError(loader.get_template("500.html").render())
    except Exception:
        logger.exception("the 500 template failed to render")
        return HttpResponseServerError("Server error", content_type="text/plain")
